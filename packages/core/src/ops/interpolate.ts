/**
 * Spatial resampling of [N,C,H,W] tensors, torch.nn.functional.interpolate with PyTorch 1.13 semantics:
 * - `nearest` is the legacy mode: src = min(⌊dst·scale⌋, in−1) in float32 (not 'nearest-exact');
 * - `bilinear` has no antialiasing; alignCorners=false uses src = max((dst+0.5)·scale − 0.5, 0),
 *   alignCorners=true uses src = dst·(in−1)/(out−1);
 * - with `scaleFactor` s the output is ⌊in·s⌋ but coordinates use scale = 1/s (not in/out);
 * - an axis whose output size equals its input size is copied unchanged, and nearest with an output of
 *   exactly twice the input uses dst >> 1 (PyTorch's shortcuts, whatever the scaleFactor).
 * Composite: separable gathers along H and W (indexSelect) and, for bilinear, the two-tap blend, so
 * each output reads exactly the inputs PyTorch reads (Inf/NaN elsewhere never leak in).
 */
import type { InterpolateAttrs } from "../backend.js";
import { tidy } from "../engine.js";
import { fmtShape } from "../shape.js";
import { Tensor } from "../tensor.js";
import { traced } from "../trace.js";
import { tensor } from "./creation.js";
import { sameBackend } from "./dispatch.js";
import { add, mul } from "./elementwise.js";
import { fusedKernel, inF32, requireFloat, withContiguous } from "./internal.js";
import { indexSelect } from "./manipulation.js";

export interface InterpolateOptions {
  /** Output [H, W] (or one int for both). Exactly one of `size` and `scaleFactor`. */
  size?: number | readonly [number, number];
  /** Multiplier per spatial dim; the output is ⌊in·s⌋. */
  scaleFactor?: number | readonly [number, number];
  /** Default 'nearest', as in PyTorch. */
  mode?: "nearest" | "bilinear";
  /** Bilinear only: align the centres of the corner pixels (default false). */
  alignCorners?: boolean;
}

function pairOf(v: number | readonly [number, number]): number[] {
  return typeof v === "number" ? [v, v] : [...v];
}

/**
 * The output [H, W] and the source-per-destination scale PyTorch uses per spatial dim, for an input of
 * shape [N,C,H,W]: in/out with `size`, 1/s with `scaleFactor` (whose output is ⌊in·s⌋). Validates `opts`.
 *
 * @example
 * interpolateGeometry([1, 3, 4, 6], { scaleFactor: 1.5 }); // { size: [6, 9], scale: [2/3, 2/3] }
 */
export function interpolateGeometry(
  inputShape: readonly number[],
  opts: InterpolateOptions,
): { size: [number, number]; scale: [number, number] } {
  const op = "interpolate";
  const [H, W] = inputShape.slice(-2) as [number, number];
  const hasSize = opts.size !== undefined && opts.size !== null;
  const hasScale = opts.scaleFactor !== undefined && opts.scaleFactor !== null;
  if (hasSize === hasScale) {
    throw new TypeError(
      `${op}: pass exactly one of 'size' and 'scaleFactor' (input ${fmtShape(inputShape)})`,
    );
  }
  if (hasSize) {
    const s = pairOf(opts.size!);
    if (s.length !== 2 || !s.every((v) => Number.isInteger(v) && v >= 1)) {
      throw new RangeError(
        `${op}: size must be a positive integer or a pair of them, got ${JSON.stringify(opts.size)}`,
      );
    }
    return { size: [s[0]!, s[1]!], scale: [H / s[0]!, W / s[1]!] };
  }
  const f = pairOf(opts.scaleFactor!);
  if (f.length !== 2 || !f.every((v) => Number.isFinite(v) && v > 0)) {
    throw new RangeError(
      `${op}: scaleFactor must be a positive number or a pair of them, got ${JSON.stringify(opts.scaleFactor)}`,
    );
  }
  const size: [number, number] = [Math.floor(H * f[0]!), Math.floor(W * f[1]!)];
  if (size[0] < 1 || size[1] < 1) {
    throw new RangeError(
      `${op}: scaleFactor ${JSON.stringify(opts.scaleFactor)} gives an empty output ${fmtShape(size)} for input ${fmtShape(inputShape)}`,
    );
  }
  return { size, scale: [1 / f[0]!, 1 / f[1]!] };
}

/**
 * The source index of each destination index along one axis, for legacy nearest:
 * min(⌊dst·scale⌋, in−1) in float32, with PyTorch's shortcuts for an equal (dst) and a doubled (dst >> 1)
 * size. `scale` is the one from {@link interpolateGeometry}. Backends and gradient rules share it.
 *
 * @example
 * nearestSourceIndices(3, 5, 3 / 5); // Int32Array [0, 0, 1, 1, 2]
 */
export function nearestSourceIndices(inSize: number, outSize: number, scale: number): Int32Array {
  const idx = new Int32Array(outSize);
  const s = Math.fround(scale);
  for (let d = 0; d < outSize; d++) {
    if (outSize === inSize) idx[d] = d;
    else if (outSize === 2 * inSize) idx[d] = d >> 1;
    else idx[d] = Math.min(Math.floor(Math.fround(d * s)), inSize - 1);
  }
  return idx;
}

/** The two source taps of each destination index along one axis: out[d] = x[lo[d]]·w0[d] + x[hi[d]]·w1[d]. */
export interface BilinearTaps {
  lo: Int32Array;
  hi: Int32Array;
  /** Weights in float64 (w0 = 1 − w1 exactly); a float32 consumer rounds them once. */
  w0: Float64Array;
  w1: Float64Array;
}

/**
 * Bilinear taps along one axis, without antialiasing: src = max((dst+0.5)·scale − 0.5, 0), or
 * dst·(in−1)/(out−1) with alignCorners; an axis whose size is unchanged maps each index onto itself with
 * weight 1 (so a neighbour's Inf never meets a zero weight). `scale` is the one from
 * {@link interpolateGeometry}. Backends and gradient rules share it.
 *
 * @example
 * bilinearTaps(2, 4, 0.5, false); // lo [0,0,0,1], hi [1,1,1,1], w1 [0, 0.25, 0.75, 0.25]
 */
export function bilinearTaps(
  inSize: number,
  outSize: number,
  scale: number,
  alignCorners: boolean,
): BilinearTaps {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const w0 = new Float64Array(outSize);
  const w1 = new Float64Array(outSize);
  const s = alignCorners ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : scale;
  for (let d = 0; d < outSize; d++) {
    if (outSize === inSize) {
      lo[d] = hi[d] = d;
      w0[d] = 1;
      continue;
    }
    const src = Math.max(alignCorners ? s * d : s * (d + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const l1 = Math.min(src - i0, 1); // src ≥ i0, so never negative
    lo[d] = i0;
    hi[d] = i0 < inSize - 1 ? i0 + 1 : i0;
    w1[d] = l1;
    w0[d] = 1 - l1;
  }
  return { lo, hi, w0, w1 };
}

/** Bilinear resampling along `dim` (2 or 3): x[lo]·w0 + x[hi]·w1. */
function lerpAlong(x: Tensor, dim: 2 | 3, taps: BilinearTaps): Tensor {
  const be = { backend: x.backendName };
  const n = taps.lo.length;
  const wShape = dim === 2 ? [n, 1] : [n];
  return tidy(() => {
    const a = indexSelect(x, dim, tensor(taps.lo, { ...be, dtype: "int32" }));
    const b = indexSelect(x, dim, tensor(taps.hi, { ...be, dtype: "int32" }));
    const w0 = tensor(taps.w0, { ...be, dtype: x.dtype, shape: wShape });
    const w1 = tensor(taps.w1, { ...be, dtype: x.dtype, shape: wShape });
    return add(mul(a, w0), mul(b, w1));
  });
}

/**
 * Resizes the two spatial dims of x [N,C,H,W] to `size`, or by `scaleFactor`, with `mode` 'nearest'
 * (default) or 'bilinear'. See the module comment for the exact PyTorch 1.13 coordinate rules.
 */
export const interpolate = traced(
  "interpolate",
  function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
    const op = "interpolate";
    sameBackend(op, { x });
    requireFloat(op, x);
    if (x.rank !== 4) throw new RangeError(`${op}: input must be 4-D [N,C,H,W], got ${fmtShape(x.shape)}`);
    const mode = opts.mode ?? "nearest";
    if (mode !== "nearest" && mode !== "bilinear") {
      throw new RangeError(`${op}: mode must be 'nearest' or 'bilinear', got '${String(mode)}'`);
    }
    if (mode === "nearest" && opts.alignCorners !== undefined) {
      throw new TypeError(`${op}: alignCorners only applies to mode 'bilinear' (got mode 'nearest')`);
    }
    const { size: out, scale } = interpolateGeometry(x.shape, opts);
    const [N, C, H, W] = x.shape as [number, number, number, number];
    if (H === 0 || W === 0)
      throw new RangeError(`${op}: input ${fmtShape(x.shape)} has an empty spatial dim`);
    const attrs: InterpolateAttrs = { mode, alignCorners: opts.alignCorners ?? false, scale };
    const outShape = [N, C, ...out];
    const kernel = fusedKernel(x.backend, op);
    if (kernel) {
      return withContiguous([x], ([xc]) => {
        const o = Tensor.empty(outShape, x.dtype, x.backend);
        kernel(xc!.kernelView, attrs, o.kernelView);
        return o;
      });
    }
    if (x.size === 0) return Tensor.empty(outShape, x.dtype, x.backend);
    const be = { backend: x.backendName, dtype: "int32" as const };
    return tidy(() => {
      if (mode === "nearest") {
        const rows = indexSelect(x, 2, tensor(nearestSourceIndices(H, out[0], scale[0]), be));
        return indexSelect(rows, 3, tensor(nearestSourceIndices(W, out[1], scale[1]), be));
      }
      // Along W first, then H: the order of PyTorch's h0·(w0·x00 + w1·x01) + h1·(…). Half inputs blend in
      // float32 and round once, like a fused kernel.
      return inF32(x, (xf) => {
        const cols = lerpAlong(xf, 3, bilinearTaps(W, out[1], scale[1], attrs.alignCorners));
        return lerpAlong(cols, 2, bilinearTaps(H, out[0], scale[0], attrs.alignCorners));
      });
    });
  },
);
