/**
 * Heat maps over images (attention rollout on the input) and single-channel maps in colour (depth),
 * with a viridis-like colormap: perceptually even and still ordered when printed in gray.
 */
import type { DecodedImage, FloatImage } from "@tessera/data";

/** Viridis sampled at 10 evenly spaced points (matplotlib's values); linear interpolation between. */
// biome-ignore format: one control point per row
const CMAP = new Float32Array([
  68, 1, 84,
  72, 40, 120,
  62, 73, 137,
  49, 104, 142,
  38, 130, 142,
  31, 158, 137,
  53, 183, 121,
  110, 206, 88,
  181, 222, 43,
  253, 231, 37,
]);
const CMAP_POINTS = CMAP.length / 3;

/** Writes the colormap at t ∈ [0, 1] (clamped; NaN → 0) as floats in [0, 1] into out[o], out[o+stride], out[o+2·stride]. */
function colormapInto(t: number, out: Float32Array, o: number, stride: number): void {
  const u = (t > 0 ? Math.min(t, 1) : 0) * (CMAP_POINTS - 1);
  const i = Math.min(CMAP_POINTS - 2, Math.floor(u));
  const f = u - i;
  for (let c = 0; c < 3; c++) {
    const a = CMAP[i * 3 + c] as number;
    const b = CMAP[(i + 1) * 3 + c] as number;
    out[o + c * stride] = (a + (b - a) * f) / 255;
  }
}

/** Min and max of the finite values (0 and 0 when there are none). */
function finiteRange(data: Float32Array): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 0];
}

/**
 * A one-channel map (depth, error, saliency) in colour: values are mapped linearly from [min, max]
 * (default: the map's own finite range) onto the viridis-like colormap, dark purple for low, yellow
 * for high. Non-finite values (invalid depth as NaN) come out black; a constant map is all low colour.
 *
 * @example
 * ```ts
 * import { toDecodedImage, writeImage } from "@tessera/data";
 * const depth = { channels: 1, height: 2, width: 2, data: new Float32Array([0.5, 1, 2, 4]) };
 * const rgb = colorize(depth, { min: 0, max: 4 }); // FloatImage, 3 channels
 * await writeImage("depth.png", toDecodedImage(rgb));
 * ```
 */
export function colorize(map: FloatImage, opts: { min?: number; max?: number } = {}): FloatImage {
  if (map.channels !== 1) {
    throw new RangeError(
      `colorize: expected a one-channel map, got ${map.channels} channels; pass one plane`,
    );
  }
  const [dataMin, dataMax] = finiteRange(map.data);
  const lo = opts.min ?? dataMin;
  const hi = opts.max ?? dataMax;
  const inv = hi > lo ? 1 / (hi - lo) : 0;
  const plane = map.height * map.width;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    const v = map.data[i] as number;
    if (Number.isFinite(v)) colormapInto((v - lo) * inv, out, i, plane);
  }
  return { channels: 3, height: map.height, width: map.width, data: out };
}

/** A heat map: `height·width` values, row-major (e.g. attention over a 7×7 patch grid). */
export interface HeatMap {
  data: Float32Array;
  height: number;
  width: number;
}

/**
 * Blends a heat map over an image: the heat is min-max normalised to [0, 1] (a constant map becomes
 * 0), bilinearly upsampled to the output size, coloured with the viridis-like colormap, and mixed as
 * `(1 − alpha)·image + alpha·colour`. A gray image is expanded to RGB; float values are clamped to
 * [0, 1]. The image is enlarged by the integer `scale` (nearest neighbour, so pixels stay visible);
 * the default makes the shorter side at least 224 pixels (28×28 → 224×224).
 *
 * @example
 * ```ts
 * import { writeImage } from "@tessera/data";
 * const image = { channels: 1, height: 28, width: 28, data: new Float32Array(784).fill(0.5) };
 * const heat = { height: 7, width: 7, data: Float32Array.from({ length: 49 }, (_, i) => i) };
 * await writeImage("attention.png", heatmapOverlay(image, heat, { alpha: 0.5 }));
 * ```
 */
export function heatmapOverlay(
  image: FloatImage,
  heat: HeatMap,
  opts: { alpha?: number; scale?: number } = {},
): DecodedImage {
  const alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1))
    throw new RangeError(`heatmapOverlay: alpha must be in [0, 1], got ${alpha}`);
  if (image.channels !== 1 && image.channels !== 3) {
    throw new RangeError(
      `heatmapOverlay: the image needs 1 (gray) or 3 (RGB) channels, got ${image.channels}`,
    );
  }
  if (heat.data.length !== heat.height * heat.width || heat.height < 1 || heat.width < 1) {
    throw new RangeError(
      `heatmapOverlay: heat has ${heat.data.length} values for ${heat.height}×${heat.width}; pass height·width values`,
    );
  }
  const scale = opts.scale ?? Math.max(1, Math.ceil(224 / Math.min(image.height, image.width)));
  if (!(Number.isInteger(scale) && scale >= 1)) {
    throw new RangeError(`heatmapOverlay: scale must be a positive integer, got ${scale}`);
  }
  const H = image.height * scale;
  const W = image.width * scale;

  const [lo, hi] = finiteRange(heat.data);
  const inv = hi > lo ? 1 / (hi - lo) : 0;
  const norm = new Float32Array(heat.data.length);
  for (let i = 0; i < norm.length; i++) {
    const v = heat.data[i] as number;
    norm[i] = Number.isFinite(v) ? (v - lo) * inv : 0;
  }

  const out = new Uint8Array(H * W * 3);
  const color = new Float32Array(3);
  const plane = image.height * image.width;
  const gray = image.channels === 1;
  const sy = heat.height / H;
  const sx = heat.width / W;
  for (let y = 0; y < H; y++) {
    // Half-pixel centres, edges clamped (torch's align_corners=False).
    const fy = Math.min(heat.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(heat.height - 1, y0 + 1);
    const wy = fy - y0;
    const iy = Math.floor(y / scale);
    for (let x = 0; x < W; x++) {
      const fx = Math.min(heat.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(heat.width - 1, x0 + 1);
      const wx = fx - x0;
      const top =
        (norm[y0 * heat.width + x0] as number) * (1 - wx) + (norm[y0 * heat.width + x1] as number) * wx;
      const bot =
        (norm[y1 * heat.width + x0] as number) * (1 - wx) + (norm[y1 * heat.width + x1] as number) * wx;
      colormapInto(top * (1 - wy) + bot * wy, color, 0, 1);
      const p = iy * image.width + Math.floor(x / scale);
      const o = (y * W + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = clamp01(image.data[gray ? p : c * plane + p] as number);
        out[o + c] = Math.round(255 * ((1 - alpha) * v + alpha * (color[c] as number)));
      }
    }
  }
  return { width: W, height: H, channels: 3, bitDepth: 8, data: out };
}

function clamp01(v: number): number {
  return v > 0 ? Math.min(v, 1) : 0;
}
