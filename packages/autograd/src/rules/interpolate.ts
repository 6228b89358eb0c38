/**
 * interpolate. The forward is separable: along W then H, each output reads one input (nearest) or
 * blends two (bilinear: x[lo]·w0 + x[hi]·w1). Backward is its transpose, H then W: scatter-add the
 * (weighted) gradient back to the source indices. The index and weight tables repeat core's
 * (PyTorch 1.13 legacy nearest, bilinear without antialiasing), computed the same way in float32.
 * The rule applies only where the backend has the fused kernel; elsewhere core's composite is differentiated.
 */
import { type InterpolateOptions, isHalf, scatterAdd, type Tensor, tensor, zeros } from "@tessera/core";
import { hasFused, registerGradRule } from "../registry.js";

const pairOf = (v: number | readonly [number, number]): [number, number] =>
  typeof v === "number" ? [v, v] : [v[0], v[1]];

/** Output size and PyTorch's source-per-destination scale per spatial dim (as in the forward). */
function geometry(inHW: readonly number[], opts: InterpolateOptions) {
  if (opts.size !== undefined && opts.size !== null) {
    const s = pairOf(opts.size);
    return { out: s, scale: [inHW[0]! / s[0], inHW[1]! / s[1]] };
  }
  const f = pairOf(opts.scaleFactor!);
  return { out: [Math.floor(inHW[0]! * f[0]), Math.floor(inHW[1]! * f[1])], scale: [1 / f[0], 1 / f[1]] };
}

function nearestIndices(inSize: number, outSize: number, scale: number): Int32Array {
  const idx = new Int32Array(outSize);
  const s = Math.fround(scale);
  for (let d = 0; d < outSize; d++) {
    if (outSize === inSize) idx[d] = d;
    else if (outSize === 2 * inSize) idx[d] = d >> 1;
    else idx[d] = Math.min(Math.floor(Math.fround(d * s)), inSize - 1);
  }
  return idx;
}

/** One source tap per destination index: index and weight. Bilinear has two. */
interface Tap {
  index: Int32Array;
  weight: Float32Array | null;
}

function linearTaps(inSize: number, outSize: number, scale: number, alignCorners: boolean): [Tap, Tap] {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const w0 = new Float32Array(outSize);
  const w1 = new Float32Array(outSize);
  const s = alignCorners ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : scale;
  for (let d = 0; d < outSize; d++) {
    if (outSize === inSize) {
      lo[d] = hi[d] = d;
      w0[d] = 1;
      continue;
    }
    const src = Math.max(alignCorners ? s * d : s * (d + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const l1 = Math.min(Math.max(src - i0, 0), 1);
    lo[d] = i0;
    hi[d] = i0 < inSize - 1 ? i0 + 1 : i0;
    w1[d] = l1;
    w0[d] = 1 - l1;
  }
  return [
    { index: lo, weight: w0 },
    { index: hi, weight: w1 },
  ];
}

/** The transpose of resampling along `dim` (2 or 3): g [..., out, ...] → [..., n, ...]. */
function scatterBack(g: Tensor, dim: 2 | 3, n: number, taps: readonly Tap[]): Tensor {
  const shape = [...g.shape];
  const out = shape[dim]!;
  shape[dim] = n;
  const along = (v: Tensor) => v.reshape(dim === 2 ? [out, 1] : [out]);
  let acc = zeros(shape, { dtype: g.dtype, backend: g.backendName });
  for (const t of taps) {
    const index = along(tensor(t.index, { dtype: "int32", backend: g.backendName })).expand(g.shape);
    const src = t.weight ? g.mul(along(tensor(t.weight, { dtype: g.dtype, backend: g.backendName }))) : g;
    acc = scatterAdd(acc, dim, index, src);
  }
  return acc;
}

registerGradRule<[Tensor, InterpolateOptions]>("interpolate", {
  applies: ([x]) => hasFused(x, "interpolate"),
  backward: (grads, ctx) => {
    const opts = ctx.args[1];
    const [, , H, W] = ctx.inputs[0]!.shape as [number, number, number, number];
    const { out, scale } = geometry([H, W], opts);
    if ((opts.mode ?? "nearest") === "nearest") {
      const rows = scatterBack(grads[0]!, 2, H, [
        { index: nearestIndices(H, out[0]!, scale[0]!), weight: null },
      ]);
      return [scatterBack(rows, 3, W, [{ index: nearestIndices(W, out[1]!, scale[1]!), weight: null }])];
    }
    // Half gradients blend in float32 like the forward; the engine casts the result back.
    const g = isHalf(grads[0]!.dtype) ? grads[0]!.cast("float32") : grads[0]!;
    const ac = opts.alignCorners ?? false;
    const rows = scatterBack(g, 2, H, linearTaps(H, out[0]!, scale[0]!, ac));
    return [scatterBack(rows, 3, W, linearTaps(W, out[1]!, scale[1]!, ac))];
  },
});
