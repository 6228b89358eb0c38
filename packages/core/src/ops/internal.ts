/**
 * Helpers shared by the nn-level op modules: fused-kernel lookup, contiguity, dtype checks, and the
 * spatial plumbing of conv/pool (int pairs, padding by placement, window views, unbatched inputs).
 * Internal: not re-exported from the package root.
 */
import type { Backend, FusedKernelName, FusedKernels } from "../backend.js";
import { isFloating, isHalf } from "../dtype.js";
import { tidy } from "../engine.js";
import { fmtShape } from "../shape.js";
import type { Tensor } from "../tensor.js";
import { pad } from "./manipulation.js";

/** An int or an [h, w] pair. */
export type IntPair = number | readonly [number, number];

// ---- fused-kernel dispatch (shared by the nn-level op modules) ---------------------------------

/**
 * The backend's fused kernel `name` bound to its table, or undefined when the backend only
 * has primitives (then the caller runs its composite).
 */
export function fusedKernel<K extends FusedKernelName>(
  backend: Backend,
  name: K,
): FusedKernels[K] | undefined {
  const k = backend.fused[name];
  return typeof k === "function"
    ? ((k as (...a: unknown[]) => void).bind(backend.fused) as FusedKernels[K])
    : undefined;
}

/**
 * Runs `fn` with contiguous versions of `inputs` (new references or copies) and disposes them
 * afterwards. Null entries stay null.
 */
export function withContiguous<T>(
  inputs: readonly (Tensor | null | undefined)[],
  fn: (c: (Tensor | null)[]) => T,
): T {
  const c = inputs.map((t) => (t ? t.contiguous() : null));
  try {
    return fn(c);
  } finally {
    for (const t of c) t?.dispose();
  }
}

/** Throws unless `x` has a floating dtype. */
export function requireFloat(op: string, x: Tensor, arg = "input"): void {
  if (!isFloating(x.dtype)) {
    throw new TypeError(
      `${op}: '${arg}' must have a floating dtype, got ${x.dtype} (shape ${fmtShape(x.shape)})`,
    );
  }
}

/**
 * Runs a composite in float32 when `x` is half precision (softmax and norms stay in f32 under
 * mixed precision) and casts the result back.
 */
export function inF32(x: Tensor, fn: (xf: Tensor) => Tensor): Tensor {
  if (!isHalf(x.dtype)) return fn(x);
  return tidy(() => fn(x.cast("float32")).cast(x.dtype));
}

/** An int or [h, w] pair, validated against `min`. */
export function intPair(
  op: string,
  name: string,
  v: IntPair | undefined,
  dflt: number,
  min: number,
): [number, number] {
  const p = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : Array.isArray(v) ? [...v] : [];
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= min)) {
    throw new RangeError(
      `${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`,
    );
  }
  return p as [number, number];
}

/**
 * A new tensor of `shape` filled with `fill`, with `x` written at `starts` every `steps`
 * elements along the last two dims (padding, and the zero-stuffing of a transposed conv).
 * Built from traced ops (reshape, pad, slice) so that autograd can differentiate the composites that
 * use it: the stuffing interleaves `fill` by padding unit axes after each row and column.
 */
export function placeInto(
  x: Tensor,
  shape: readonly number[],
  fill: number,
  starts: readonly [number, number],
  steps: readonly [number, number] = [1, 1],
): Tensor {
  const r = x.rank;
  const [h, w] = [x.shape[r - 2]!, x.shape[r - 1]!];
  return tidy(() => {
    let src = x;
    if (steps[0] !== 1 || steps[1] !== 1) {
      const lead = x.shape.slice(0, r - 2);
      // [.., h, w] → [.., h, 1, w, 1] → [.., h, steps0, w, steps1] → [.., h·steps0, w·steps1]
      src = pad(x.reshape([...lead, h, 1, w, 1]), [0, steps[1] - 1, 0, 0, 0, steps[0] - 1], fill).reshape([
        ...lead,
        h * steps[0],
        w * steps[1],
      ]);
    }
    // Negative trailing pads crop the fill that stuffing left after the last row/column.
    const hs = src.shape[r - 2]!;
    const ws = src.shape[r - 1]!;
    return pad(
      src,
      [starts[1], shape[r - 1]! - starts[1] - ws, starts[0], shape[r - 2]! - starts[0] - hs],
      fill,
    );
  });
}

/**
 * Sliding windows of a [N,C,H,W] tensor as a view [N,C,Ho,Wo,kh,kw] (no copy); dilation is a
 * stepped slice of each window.
 */
export function windows(
  x: Tensor,
  kernel: readonly [number, number],
  stride: readonly [number, number],
  dilation: readonly [number, number],
): Tensor {
  return tidy(() => {
    let win = x.unfold(2, dilation[0] * (kernel[0] - 1) + 1, stride[0]);
    if (dilation[0] > 1) win = win.slice(4, 0, undefined, dilation[0]);
    win = win.unfold(3, dilation[1] * (kernel[1] - 1) + 1, stride[1]);
    if (dilation[1] > 1) win = win.slice(5, 0, undefined, dilation[1]);
    return win;
  });
}

/** Adds a leading batch dim to an unbatched [C,H,W] input; `unbatch` undoes it on the result. */
export function batched(op: string, x: Tensor): { x4: Tensor; unbatch: (y: Tensor) => Tensor } {
  if (x.rank === 4) return { x4: x.asStrided(x.shape, x.strides), unbatch: (y) => y };
  if (x.rank === 3) {
    return {
      x4: x.unsqueeze(0),
      unbatch: (y) => {
        const r = y.squeeze(0);
        y.dispose();
        return r;
      },
    };
  }
  throw new RangeError(`${op}: input must be [N,C,H,W] or unbatched [C,H,W], got ${fmtShape(x.shape)}`);
}
