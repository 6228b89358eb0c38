/**
 * 2-D pooling: maxPool2d, avgPool2d, adaptiveAvgPool2d (torch.nn.functional semantics, PyTorch 1.13).
 * Fused kernel when the backend has one; otherwise composites over window views of a padded input
 * (max / sum) and, for adaptive pooling, a gather of each window's rows and columns.
 */
import type { PoolAttrs } from "../backend.js";
import { tidy } from "../engine.js";
import { fmtShape } from "../shape.js";
import { Tensor } from "../tensor.js";
import { traced } from "../trace.js";
import { tensor } from "./creation.js";
import { sameBackend } from "./dispatch.js";
import { div, where } from "./elementwise.js";
import {
  batched,
  fusedKernel,
  type IntPair,
  intPair,
  placeInto,
  requireFloat,
  windows,
  withContiguous,
} from "./internal.js";
import { indexSelect } from "./manipulation.js";
import { max, sum } from "./reduce.js";

export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  stride?: IntPair;
  /** Implicit -inf padding on each side; at most half the kernel. */
  padding?: IntPair;
  dilation?: IntPair;
  /** Use ceil instead of floor for the output size (a last window may start inside the right padding). */
  ceilMode?: boolean;
}

export interface AvgPool2dOptions {
  stride?: IntPair;
  padding?: IntPair;
  ceilMode?: boolean;
  /** Count padded zeros in the divisor (PyTorch's default, true). */
  countIncludePad?: boolean;
}

/** PyTorch's pooling_output_shape for one dim. */
function pooledSize(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = size + 2 * p - d * (k - 1) - 1;
  let out = Math.floor((span + (ceil ? s - 1 : 0)) / s) + 1;
  // The last window must start inside the input or the left padding.
  if (ceil && (out - 1) * s >= size + p) out--;
  return out;
}

function poolSetup(
  op: string,
  x: Tensor,
  kernel: IntPair,
  opts: { stride?: IntPair; padding?: IntPair; dilation?: IntPair; ceilMode?: boolean },
): { attrs: PoolAttrs; outHW: [number, number] } {
  sameBackend(op, { x });
  requireFloat(op, x);
  const k = intPair(op, "kernel", kernel, 1, 1);
  const attrs: PoolAttrs = {
    kernel: k,
    stride: intPair(op, "stride", opts.stride ?? k, 1, 1),
    padding: intPair(op, "padding", opts.padding, 0, 0),
    dilation: intPair(op, "dilation", opts.dilation, 1, 1),
    ceilMode: opts.ceilMode ?? false,
    countIncludePad: true,
  };
  if (x.rank !== 3 && x.rank !== 4) {
    throw new RangeError(`${op}: input must be [N,C,H,W] or unbatched [C,H,W], got ${fmtShape(x.shape)}`);
  }
  const [H, W] = x.shape.slice(-2) as [number, number];
  for (const i of [0, 1]) {
    if (attrs.padding[i]! > Math.floor(k[i]! / 2)) {
      throw new RangeError(
        `${op}: padding ${fmtShape(attrs.padding)} must be at most half the kernel ${fmtShape(k)} (input ${fmtShape(x.shape)})`,
      );
    }
  }
  const outHW: [number, number] = [
    pooledSize(H, k[0], attrs.stride[0], attrs.padding[0], attrs.dilation[0], attrs.ceilMode),
    pooledSize(W, k[1], attrs.stride[1], attrs.padding[1], attrs.dilation[1], attrs.ceilMode),
  ];
  if (outHW[0] <= 0 || outHW[1] <= 0) {
    throw new RangeError(
      `${op}: output size ${fmtShape(outHW)} is too small for input ${fmtShape(x.shape)} with kernel ${fmtShape(k)}, ` +
        `padding ${fmtShape(attrs.padding)}, dilation ${fmtShape(attrs.dilation)}`,
    );
  }
  return { attrs, outHW };
}

/** Runs the fused pool kernel `name` on the batched input. */
function runFused(x4: Tensor, outShape: number[], call: (xc: Tensor, out: Tensor) => void): Tensor {
  return withContiguous([x4], ([xc]) => {
    const out = Tensor.empty(outShape, x4.dtype, x4.backend);
    call(xc!, out);
    return out;
  });
}

/**
 * The input written into a `fill`-valued buffer large enough for every window: `padding` on the top/left
 * and whatever the last (ceil-mode) window needs on the bottom/right.
 */
function padForWindows(x4: Tensor, attrs: PoolAttrs, outHW: [number, number], fill: number): Tensor {
  const [, , H, W] = x4.shape as [number, number, number, number];
  const need = [0, 1].map(
    (i) => (outHW[i]! - 1) * attrs.stride[i]! + attrs.dilation[i]! * (attrs.kernel[i]! - 1) + 1,
  );
  const [ph, pw] = attrs.padding;
  const hb = Math.max(need[0]!, H + ph);
  const wb = Math.max(need[1]!, W + pw);
  if (ph === 0 && pw === 0 && hb === H && wb === W) return x4.asStrided(x4.shape, x4.strides);
  return placeInto(x4, [x4.shape[0]!, x4.shape[1]!, hb, wb], fill, [ph, pw]);
}

/**
 * Max over each kernel window (padding acts as -inf; NaN propagates).
 * x [N,C,H,W] or [C,H,W] → [N,C,Ho,Wo], Ho = ⌊(H + 2p − d·(k−1) − 1)/s⌋ + 1 (⌈⌉ with ceilMode).
 */
export const maxPool2d = traced(
  "maxPool2d",
  function maxPool2d(x: Tensor, kernel: IntPair, opts: MaxPool2dOptions = {}): Tensor {
    const op = "maxPool2d";
    const { attrs, outHW } = poolSetup(op, x, kernel, opts);
    const { x4, unbatch } = batched(op, x);
    try {
      const outShape = [x4.shape[0]!, x4.shape[1]!, ...outHW];
      const k = fusedKernel(x.backend, op);
      if (k) return unbatch(runFused(x4, outShape, (xc, out) => k(xc.kernelView, attrs, out.kernelView)));
      if (x4.size === 0) return unbatch(Tensor.empty(outShape, x.dtype, x.backend));
      return unbatch(
        tidy(() => {
          const xp = padForWindows(x4, attrs, outHW, Number.NEGATIVE_INFINITY);
          const win = windows(xp, attrs.kernel, attrs.stride, attrs.dilation);
          // max over the flattened window rather than amax: differentiated, it sends the gradient to the
          // first maximum of a tied window, as torch's maxPool2d (and the fused rule) do.
          return max(win.reshape([...outShape, attrs.kernel[0] * attrs.kernel[1]]), 4).values;
        }),
      );
    } finally {
      x4.dispose();
    }
  },
);

/**
 * The divisor of each avgPool2d output position along one dim (PyTorch's pool_size / count rules): the
 * window clipped to the padded input (a ceil-mode window's overhang never counts), or, without
 * `countIncludePad`, to the input itself. A 2-D divisor is the product of the two dims'.
 * Backends and gradient rules share it.
 *
 * @example
 * avgPoolDivisors(5, 3, 3, 2, 1, true); // [3, 3, 3]
 * avgPoolDivisors(5, 3, 3, 2, 1, false); // [2, 3, 2]
 */
export function avgPoolDivisors(
  size: number,
  outSize: number,
  kernel: number,
  stride: number,
  padding: number,
  countIncludePad: boolean,
): number[] {
  const d: number[] = [];
  for (let o = 0; o < outSize; o++) {
    const start = o * stride - padding;
    const end = Math.min(start + kernel, size + padding);
    d.push(countIncludePad ? end - start : Math.min(end, size) - Math.max(start, 0));
  }
  return d;
}

/**
 * Mean over each kernel window. With countIncludePad (default) padded zeros count in the divisor, except
 * the part of a ceil-mode window beyond the padding. x [N,C,H,W] or [C,H,W] → [N,C,Ho,Wo].
 */
export const avgPool2d = traced(
  "avgPool2d",
  function avgPool2d(x: Tensor, kernel: IntPair, opts: AvgPool2dOptions = {}): Tensor {
    const op = "avgPool2d";
    const { attrs, outHW } = poolSetup(op, x, kernel, { ...opts, dilation: 1 });
    attrs.countIncludePad = opts.countIncludePad ?? true;
    const { x4, unbatch } = batched(op, x);
    try {
      const [, , H, W] = x4.shape as [number, number, number, number];
      const outShape = [x4.shape[0]!, x4.shape[1]!, ...outHW];
      const k = fusedKernel(x.backend, op);
      if (k) return unbatch(runFused(x4, outShape, (xc, out) => k(xc.kernelView, attrs, out.kernelView)));
      if (x4.size === 0) return unbatch(Tensor.empty(outShape, x.dtype, x.backend));
      const dh = avgPoolDivisors(
        H,
        outHW[0],
        attrs.kernel[0],
        attrs.stride[0],
        attrs.padding[0],
        attrs.countIncludePad,
      );
      const dw = avgPoolDivisors(
        W,
        outHW[1],
        attrs.kernel[1],
        attrs.stride[1],
        attrs.padding[1],
        attrs.countIncludePad,
      );
      const divisor = new Float32Array(outHW[0] * outHW[1]);
      for (let i = 0; i < outHW[0]; i++)
        for (let j = 0; j < outHW[1]; j++) divisor[i * outHW[1] + j] = dh[i]! * dw[j]!;
      return unbatch(
        tidy(() => {
          const xp = padForWindows(x4, attrs, outHW, 0);
          const sums = sum(windows(xp, attrs.kernel, attrs.stride, attrs.dilation), [4, 5]);
          return div(sums, tensor(divisor, { shape: outHW, dtype: x.dtype, backend: x.backendName }));
        }),
      );
    } finally {
      x4.dispose();
    }
  },
);

/**
 * Averages x over window i of each spatial dim, [⌊i·n/o⌋, ⌈(i+1)·n/o⌉), along `dim` (2 or 3): gathers
 * every window padded to the longest one, zeroes the padding with `where` (so Inf/NaN elsewhere never
 * leak in) and divides by the window length.
 */
function adaptiveAlong(x: Tensor, dim: 2 | 3, out: number): Tensor {
  const n = x.shape[dim]!;
  const starts = Array.from({ length: out }, (_, i) => Math.floor((i * n) / out));
  const ends = Array.from({ length: out }, (_, i) => Math.ceil(((i + 1) * n) / out));
  const kmax = Math.max(...ends.map((e, i) => e - starts[i]!));
  const index = new Int32Array(out * kmax);
  const valid = new Uint8Array(out * kmax);
  const counts = new Float32Array(out);
  for (let i = 0; i < out; i++) {
    counts[i] = ends[i]! - starts[i]!;
    for (let j = 0; j < kmax; j++) {
      valid[i * kmax + j] = j < counts[i]! ? 1 : 0;
      index[i * kmax + j] = Math.min(starts[i]! + j, ends[i]! - 1);
    }
  }
  const be = { backend: x.backendName };
  return tidy(() => {
    const shape = [...x.shape];
    shape.splice(dim, 1, out, kmax);
    const g = indexSelect(x, dim, tensor(index, { ...be, dtype: "int32" })).reshape(shape);
    const maskShape = dim === 2 ? [out, kmax, 1] : [out, kmax];
    const mask = tensor(valid, { ...be, dtype: "bool", shape: maskShape });
    const s = sum(where(mask, g, 0), dim + 1);
    return div(s, tensor(counts, { ...be, dtype: x.dtype, shape: dim === 2 ? [out, 1] : [out] }));
  });
}

/**
 * Adaptive average pooling to `outputSize` (an int, or [h, w] where null keeps that input size).
 * Output cell (i, j) averages rows [⌊i·H/Ho⌋, ⌈(i+1)·H/Ho⌉) and the matching columns; windows overlap
 * when H is not a multiple of Ho. x [N,C,H,W] or [C,H,W].
 */
export const adaptiveAvgPool2d = traced(
  "adaptiveAvgPool2d",
  function adaptiveAvgPool2d(
    x: Tensor,
    outputSize: number | readonly [number | null, number | null],
  ): Tensor {
    const op = "adaptiveAvgPool2d";
    sameBackend(op, { x });
    requireFloat(op, x);
    if (x.rank !== 3 && x.rank !== 4) {
      throw new RangeError(`${op}: input must be [N,C,H,W] or unbatched [C,H,W], got ${fmtShape(x.shape)}`);
    }
    const [H, W] = x.shape.slice(-2) as [number, number];
    const req =
      typeof outputSize === "number" ? [outputSize, outputSize] : [outputSize[0] ?? H, outputSize[1] ?? W];
    if (req.length !== 2 || !req.every((v) => Number.isInteger(v) && v >= 1)) {
      throw new RangeError(
        `${op}: outputSize must be a positive integer or a pair, got ${JSON.stringify(outputSize)}`,
      );
    }
    if (H === 0 || W === 0)
      throw new RangeError(`${op}: input ${fmtShape(x.shape)} has an empty spatial dim`);
    const [Ho, Wo] = req as [number, number];
    const { x4, unbatch } = batched(op, x);
    try {
      const outShape = [x4.shape[0]!, x4.shape[1]!, Ho, Wo];
      const k = fusedKernel(x.backend, op);
      if (k) return unbatch(runFused(x4, outShape, (xc, out) => k(xc.kernelView, out.kernelView)));
      if (x4.size === 0) return unbatch(Tensor.empty(outShape, x.dtype, x.backend));
      return unbatch(tidy(() => adaptiveAlong(adaptiveAlong(x4, 2, Ho), 3, Wo)));
    } finally {
      x4.dispose();
    }
  },
);
