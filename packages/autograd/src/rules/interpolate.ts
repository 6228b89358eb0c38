/**
 * interpolate. The forward is separable: along W then H, each output reads one input (nearest) or
 * blends two (bilinear: x[lo]·w0 + x[hi]·w1). Backward is its transpose, H then W: scatter-add the
 * (weighted) gradient back to the source indices, with core's index and weight tables (the forward's).
 * The rule applies only where the backend has the fused kernel; elsewhere core's composite is differentiated.
 */
import {
  bilinearTaps,
  type InterpolateOptions,
  interpolateGeometry,
  isHalf,
  nearestSourceIndices,
  scatterAdd,
  type Tensor,
  tensor,
  zeros,
} from "@tessera/core";
import { hasFused, registerGradRule } from "../registry.js";

/** One source tap per destination index: index and weight (none for nearest). */
interface Tap {
  index: Int32Array;
  weight: Float64Array | null;
}

const bilinear = (inSize: number, outSize: number, scale: number, alignCorners: boolean): Tap[] => {
  const t = bilinearTaps(inSize, outSize, scale, alignCorners);
  return [
    { index: t.lo, weight: t.w0 },
    { index: t.hi, weight: t.w1 },
  ];
};

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
    const xShape = ctx.inputs[0]!.shape;
    const [, , H, W] = xShape as [number, number, number, number];
    const { size: out, scale } = interpolateGeometry(xShape, opts);
    if ((opts.mode ?? "nearest") === "nearest") {
      const rows = scatterBack(grads[0]!, 2, H, [
        { index: nearestSourceIndices(H, out[0], scale[0]), weight: null },
      ]);
      return [scatterBack(rows, 3, W, [{ index: nearestSourceIndices(W, out[1], scale[1]), weight: null }])];
    }
    // Half gradients blend in float32 like the forward; the engine casts the result back.
    const g = isHalf(grads[0]!.dtype) ? grads[0]!.cast("float32") : grads[0]!;
    const ac = opts.alignCorners ?? false;
    const rows = scatterBack(g, 2, H, bilinear(H, out[0], scale[0], ac));
    return [scatterBack(rows, 3, W, bilinear(W, out[1], scale[1], ac))];
  },
});
