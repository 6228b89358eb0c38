/**
 * Image transforms on `FloatImage` (CHW float32), named and parameterised like torchvision's. Each
 * transform carries a JSON `spec`, so a worker thread rebuilds the same pipeline with
 * `transformFromSpec`; random transforms draw only from the `Rng` passed to `apply`, so a sample's
 * augmentation depends on (seed, epoch, index) alone, whichever thread loads it.
 */
import { bilinearTaps, type Tensor, tensor } from "@tessera/core";
import type { Rng } from "./rng.js";
import type { FloatImage } from "./types.js";

/** A transform's name and parameters, plain JSON. */
export type TransformSpec = { name: string; [key: string]: unknown };

/** An image-to-image step; `rng` feeds the random ones (deterministic ones ignore it). */
export interface Transform {
  readonly spec: TransformSpec;
  apply(img: FloatImage, rng: Rng): FloatImage;
}

/** ImageNet's per-channel mean (RGB), what pretrained ViTs and DeiT normalise with. */
export const IMAGENET_MEAN: readonly number[] = Object.freeze([0.485, 0.456, 0.406]);
/** ImageNet's per-channel standard deviation (RGB). */
export const IMAGENET_STD: readonly number[] = Object.freeze([0.229, 0.224, 0.225]);

type Size2 = [number, number];

/**
 * `(x − mean[c]) / std[c]` per channel (torchvision `Normalize`). The channel count must match.
 *
 * @example
 * ```ts
 * import { IMAGENET_MEAN, IMAGENET_STD, normalize } from "@tessera/data";
 * const t = normalize({ mean: IMAGENET_MEAN, std: IMAGENET_STD });
 * ```
 */
export function normalize(opts: { mean: readonly number[]; std: readonly number[] }): Transform {
  const mean = [...opts.mean];
  const std = [...opts.std];
  if (mean.length !== std.length || mean.length === 0) {
    throw new RangeError(
      `normalize: mean has ${mean.length} values and std has ${std.length}; give one of each per channel`,
    );
  }
  for (let c = 0; c < std.length; c++) {
    if (!(std[c]! > 0) || !Number.isFinite(mean[c]!)) {
      throw new RangeError(
        `normalize: std must be positive and mean finite, got mean ${JSON.stringify(mean)}, std ${JSON.stringify(std)}`,
      );
    }
  }
  return {
    spec: { name: "normalize", mean, std },
    apply(img) {
      if (img.channels !== mean.length) {
        throw new RangeError(
          `normalize: the image has ${img.channels} channel(s) but mean/std have ${mean.length}; ` +
            `use grayscale({ channels: ${mean.length} }) first or give ${img.channels} mean/std values`,
        );
      }
      const plane = img.height * img.width;
      const out = new Float32Array(img.data.length);
      for (let c = 0; c < img.channels; c++) {
        const m = mean[c]!;
        const inv = 1 / std[c]!;
        const o = c * plane;
        for (let p = 0; p < plane; p++) out[o + p] = (img.data[o + p]! - m) * inv;
      }
      return { ...img, data: out };
    },
  };
}

/**
 * Bilinear resize, identical to `torch.nn.functional.interpolate(mode="bilinear", align_corners=False)`
 * (no antialias). `[h, w]` resizes to exactly that; a number resizes the shorter side to it and keeps
 * the aspect ratio, like torchvision's `Resize(int)`.
 *
 * @example
 * ```ts
 * import { centerCrop, compose, resize } from "@tessera/data";
 * const eval224 = compose([resize(256), centerCrop(224)]);
 * ```
 */
export function resize(size: number | [number, number]): Transform {
  checkSize("resize", size);
  return {
    spec: { name: "resize", size },
    apply(img) {
      const [h, w] = typeof size === "number" ? shorterSide(img.height, img.width, size) : size;
      return resizeBilinear(img, h, w);
    },
  };
}

/**
 * Crops the centre `size` (a number for a square); an image smaller than that is padded with zeros
 * first, like torchvision's `CenterCrop`.
 *
 * @example
 * ```ts
 * import { centerCrop } from "@tessera/data";
 * const t = centerCrop(24); // 28×28 → 24×24
 * ```
 */
export function centerCrop(size: number | [number, number]): Transform {
  checkSize("centerCrop", size);
  return {
    spec: { name: "centerCrop", size },
    apply(img) {
      const [th, tw] = pair(size);
      const top = centerOffset(img.height, th);
      const left = centerOffset(img.width, tw);
      return crop(img, top, left, th, tw);
    },
  };
}

/**
 * A random `size` crop, after optional zero `padding` on every side (a number, or
 * [left/right, top/bottom]), like torchvision's `RandomCrop` (the CIFAR/Fashion-MNIST "pad 4 and crop").
 *
 * @example
 * ```ts
 * import { randomCrop, Rng } from "@tessera/data";
 * const t = randomCrop(28, { padding: 4 });
 * ```
 */
export function randomCrop(
  size: number | [number, number],
  opts: { padding?: number | [number, number] } = {},
): Transform {
  checkSize("randomCrop", size);
  const padding = opts.padding ?? 0;
  const [padX, padY] = typeof padding === "number" ? [padding, padding] : padding;
  if (![padX, padY].every((p) => Number.isInteger(p) && p >= 0)) {
    throw new RangeError(
      `randomCrop: padding must be a non-negative integer or a pair of them, got ${JSON.stringify(padding)}`,
    );
  }
  return {
    spec: opts.padding === undefined ? { name: "randomCrop", size } : { name: "randomCrop", size, padding },
    apply(img, rng) {
      const [th, tw] = pair(size);
      const h = img.height + 2 * padY;
      const w = img.width + 2 * padX;
      if (h < th || w < tw) {
        throw new RangeError(`randomCrop: crop ${th}×${tw} is larger than the (padded) image ${h}×${w}`);
      }
      // Top then left, as torchvision draws them.
      const top = rng.int(h - th + 1) - padY;
      const left = rng.int(w - tw + 1) - padX;
      return crop(img, top, left, th, tw);
    },
  };
}

/**
 * Mirrors left↔right with probability `p` (torchvision `RandomHorizontalFlip`).
 *
 * @example
 * ```ts
 * import { randomHorizontalFlip } from "@tessera/data";
 * const t = randomHorizontalFlip(0.5);
 * ```
 */
export function randomHorizontalFlip(p = 0.5): Transform {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`randomHorizontalFlip: p must be in [0, 1], got ${p}`);
  return {
    spec: { name: "randomHorizontalFlip", p },
    apply(img, rng) {
      // Always draw, so the stream advances the same whether or not the image flips.
      if (!(rng.random() < p)) return img;
      const { channels, height, width, data } = img;
      const out = new Float32Array(data.length);
      for (let r = 0; r < channels * height; r++) {
        const o = r * width;
        for (let x = 0; x < width; x++) out[o + x] = data[o + width - 1 - x]!;
      }
      return { ...img, data: out };
    },
  };
}

/**
 * torchvision's `RandomResizedCrop`: up to 10 tries at a crop with area fraction from `scale` and
 * aspect ratio log-uniform in `ratio`; if none fits, the largest centred crop with a ratio in range.
 * The crop is resized to `size` bilinearly (no antialias).
 *
 * @example
 * ```ts
 * import { randomResizedCrop } from "@tessera/data";
 * const t = randomResizedCrop(224, { scale: [0.08, 1] });
 * ```
 */
export function randomResizedCrop(
  size: number | [number, number],
  opts: { scale?: [number, number]; ratio?: [number, number] } = {},
): Transform {
  checkSize("randomResizedCrop", size);
  const scale = opts.scale ?? [0.08, 1];
  const ratio = opts.ratio ?? [3 / 4, 4 / 3];
  if (!(scale[0] > 0 && scale[0] <= scale[1]) || !(ratio[0] > 0 && ratio[0] <= ratio[1])) {
    throw new RangeError(
      `randomResizedCrop: scale and ratio must be increasing positive pairs, got scale ${JSON.stringify(scale)}, ratio ${JSON.stringify(ratio)}`,
    );
  }
  return {
    spec: { name: "randomResizedCrop", size, scale: [...scale], ratio: [...ratio] },
    apply(img, rng) {
      const box = randomResizedCropBox(img.height, img.width, scale, ratio, rng);
      const [th, tw] = pair(size);
      return resizeBilinear(crop(img, box.top, box.left, box.height, box.width), th, tw);
    },
  };
}

/**
 * The crop box `randomResizedCrop` takes from a `height`×`width` image (torchvision's `get_params`).
 *
 * @example
 * ```ts
 * import { randomResizedCropBox, Rng } from "@tessera/data";
 * const { top, left, height, width } = randomResizedCropBox(28, 28, [0.08, 1], [3 / 4, 4 / 3], new Rng(0));
 * ```
 */
export function randomResizedCropBox(
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  rng: Rng,
): { top: number; left: number; height: number; width: number } {
  const area = height * width;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = roundHalfEven(w / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(h * ratio[1]);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/**
 * RGB → gray with ITU-R 601 luma (0.299R + 0.587G + 0.114B), torchvision's `Grayscale`;
 * `channels: 3` repeats the gray plane (for RGB models). A gray input is passed through or repeated.
 *
 * @example
 * ```ts
 * import { grayscale } from "@tessera/data";
 * const t = grayscale({ channels: 3 });
 * ```
 */
export function grayscale(opts: { channels?: 1 | 3 } = {}): Transform {
  const channels = opts.channels ?? 1;
  if (channels !== 1 && channels !== 3)
    throw new RangeError(`grayscale: channels must be 1 or 3, got ${String(channels)}`);
  return {
    spec: { name: "grayscale", channels },
    apply(img) {
      const plane = img.height * img.width;
      let gray: Float32Array;
      if (img.channels === 1) {
        if (channels === 1) return img;
        gray = img.data;
      } else if (img.channels === 3) {
        gray = new Float32Array(plane);
        const d = img.data;
        for (let p = 0; p < plane; p++)
          gray[p] = 0.299 * d[p]! + 0.587 * d[plane + p]! + 0.114 * d[2 * plane + p]!;
        if (channels === 1) return { channels: 1, height: img.height, width: img.width, data: gray };
      } else {
        throw new RangeError(`grayscale: expects a 1- or 3-channel image, got ${img.channels} channels`);
      }
      const out = new Float32Array(3 * plane);
      out.set(gray, 0);
      out.set(gray, plane);
      out.set(gray, 2 * plane);
      return { channels: 3, height: img.height, width: img.width, data: out };
    },
  };
}

/**
 * Applies transforms in order, all drawing from the same `rng` stream.
 *
 * @example
 * ```ts
 * import { compose, normalize, randomCrop, randomHorizontalFlip } from "@tessera/data";
 * const train = compose([randomCrop(28, { padding: 2 }), randomHorizontalFlip(), normalize({ mean: [0.286], std: [0.353] })]);
 * ```
 */
export function compose(transforms: Transform[]): Transform {
  const list = [...transforms];
  return {
    spec: { name: "compose", transforms: list.map((t) => t.spec) },
    apply(img, rng) {
      for (const t of list) img = t.apply(img, rng);
      return img;
    },
  };
}

const FACTORIES: Record<string, (spec: TransformSpec) => Transform> = {
  normalize: (s) => normalize({ mean: s["mean"] as number[], std: s["std"] as number[] }),
  resize: (s) => resize(s["size"] as number | Size2),
  centerCrop: (s) => centerCrop(s["size"] as number | Size2),
  randomCrop: (s) =>
    randomCrop(
      s["size"] as number | Size2,
      s["padding"] === undefined ? {} : { padding: s["padding"] as number | Size2 },
    ),
  randomHorizontalFlip: (s) => randomHorizontalFlip(s["p"] as number | undefined),
  randomResizedCrop: (s) =>
    randomResizedCrop(s["size"] as number | Size2, {
      ...(s["scale"] === undefined ? {} : { scale: s["scale"] as Size2 }),
      ...(s["ratio"] === undefined ? {} : { ratio: s["ratio"] as Size2 }),
    }),
  grayscale: (s) => grayscale(s["channels"] === undefined ? {} : { channels: s["channels"] as 1 | 3 }),
  compose: (s) => {
    if (!Array.isArray(s["transforms"]))
      throw new TypeError("transformFromSpec: a compose spec needs a 'transforms' array");
    return compose((s["transforms"] as TransformSpec[]).map(transformFromSpec));
  },
};

/**
 * Rebuilds a transform (or a whole `compose` pipeline) from its `spec`, e.g. inside a worker thread.
 *
 * @example
 * ```ts
 * import { compose, randomHorizontalFlip, resize, transformFromSpec } from "@tessera/data";
 * const spec = JSON.parse(JSON.stringify(compose([resize(32), randomHorizontalFlip()]).spec));
 * const same = transformFromSpec(spec);
 * ```
 */
export function transformFromSpec(spec: TransformSpec): Transform {
  const factory = spec !== null && typeof spec === "object" ? FACTORIES[spec.name] : undefined;
  if (factory === undefined) {
    throw new TypeError(
      `transformFromSpec: unknown transform ${JSON.stringify(spec?.name)}; known: ${Object.keys(FACTORIES).join(", ")}`,
    );
  }
  return factory(spec);
}

/**
 * A float32 tensor on the current backend: `[C,H,W]` from one image, `[B,C,H,W]` from a list (all
 * the same shape).
 *
 * @example
 * ```ts
 * import { toTensor } from "@tessera/data";
 * const x = toTensor({ channels: 1, height: 2, width: 2, data: new Float32Array(4) }); // [1, 2, 2]
 * ```
 */
export function toTensor(img: FloatImage | FloatImage[]): Tensor {
  if (!Array.isArray(img)) {
    checkImage(img);
    return tensor(img.data, { shape: [img.channels, img.height, img.width], dtype: "float32" });
  }
  if (img.length === 0) throw new RangeError("toTensor: the image list is empty");
  const { channels, height, width } = img[0]!;
  const size = channels * height * width;
  const out = new Float32Array(img.length * size);
  for (let b = 0; b < img.length; b++) {
    const im = img[b]!;
    if (im.channels !== channels || im.height !== height || im.width !== width) {
      throw new RangeError(
        `toTensor: image ${b} is [${im.channels},${im.height},${im.width}], image 0 is [${channels},${height},${width}]; resize or crop them to one size`,
      );
    }
    checkImage(im);
    out.set(im.data, b * size);
  }
  return tensor(out, { shape: [img.length, channels, height, width], dtype: "float32" });
}

/** Bilinear resampling with PyTorch's source-index rule (align_corners=False), rows then columns. */
function resizeBilinear(img: FloatImage, outH: number, outW: number): FloatImage {
  const { channels, height, width, data } = img;
  if (outH === height && outW === width) return img;
  const ty = bilinearTaps(height, outH, height / outH, false);
  const tx = bilinearTaps(width, outW, width / outW, false);
  const out = new Float32Array(channels * outH * outW);
  for (let c = 0; c < channels; c++) {
    const src = c * height * width;
    const dst = c * outH * outW;
    for (let y = 0; y < outH; y++) {
      const r0 = src + ty.lo[y]! * width;
      const r1 = src + ty.hi[y]! * width;
      const wy0 = ty.w0[y]!;
      const wy1 = ty.w1[y]!;
      const o = dst + y * outW;
      for (let x = 0; x < outW; x++) {
        const x0 = tx.lo[x]!;
        const x1 = tx.hi[x]!;
        const wx0 = tx.w0[x]!;
        const wx1 = tx.w1[x]!;
        out[o + x] =
          wy0 * (wx0 * data[r0 + x0]! + wx1 * data[r0 + x1]!) +
          wy1 * (wx0 * data[r1 + x0]! + wx1 * data[r1 + x1]!);
      }
    }
  }
  return { channels, height: outH, width: outW, data: out };
}

/** The `h`×`w` window at (top, left); parts outside the image are zero (padding). */
function crop(img: FloatImage, top: number, left: number, h: number, w: number): FloatImage {
  const { channels, height, width, data } = img;
  const out = new Float32Array(channels * h * w);
  const y0 = Math.max(0, -top);
  const y1 = Math.min(h, height - top);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(w, width - left);
  if (x1 > x0) {
    for (let c = 0; c < channels; c++) {
      for (let y = y0; y < y1; y++) {
        const s = c * height * width + (top + y) * width + left;
        out.set(data.subarray(s + x0, s + x1), c * h * w + y * w + x0);
      }
    }
  }
  return { channels, height: h, width: w, data: out };
}

/**
 * torchvision's centre-crop offset: round((n − t) / 2) with Python's half-to-even rounding; a crop
 * larger than the image pads ⌊(t − n) / 2⌋ zeros before (a negative offset).
 */
function centerOffset(n: number, t: number): number {
  return t > n ? -Math.floor((t - n) / 2) : roundHalfEven((n - t) / 2);
}

/** torchvision's `Resize(int)` output size: the shorter side becomes `size`, the longer is truncated. */
function shorterSide(h: number, w: number, size: number): Size2 {
  if (h <= w) return [size, Math.max(1, Math.floor((size * w) / h))];
  return [Math.max(1, Math.floor((size * h) / w)), size];
}

function pair(size: number | Size2): Size2 {
  return typeof size === "number" ? [size, size] : size;
}

function checkSize(op: string, size: unknown): void {
  const ok = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 1;
  if (typeof size === "number" ? ok(size) : Array.isArray(size) && size.length === 2 && size.every(ok))
    return;
  throw new RangeError(
    `${op}: size must be a positive integer or [height, width], got ${JSON.stringify(size)}`,
  );
}

function checkImage(img: FloatImage): void {
  const n = img.channels * img.height * img.width;
  if (img.data.length !== n) {
    throw new RangeError(
      `toTensor: image [${img.channels},${img.height},${img.width}] needs ${n} values, data has ${img.data.length}`,
    );
  }
}

/** Python 3's round(): halves go to the even neighbour (torchvision's crop arithmetic uses it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
