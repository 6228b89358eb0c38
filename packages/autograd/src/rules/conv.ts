/**
 * conv2d and convTranspose2d. Each is the adjoint of the other in its input, so
 *   d conv2d / d x          = convTranspose2d(g, w) (outputPadding recovers the exact input size),
 *   d convTranspose2d / d x = conv2d(g, w) (cropped to the input size),
 * and both weight gradients are one correlation of the input with the output gradient in which batch
 * plays the channels: `weightGrad`. Unbatched [C,H,W] inputs get a batch dim of one.
 * The rules apply only where the backend has the fused kernel; elsewhere core's composite is differentiated.
 */
import {
  type Conv2dOptions,
  type ConvTranspose2dOptions,
  conv2d,
  convTranspose2d,
  type Tensor,
} from "@tessera/core";
import { hasFused, registerGradRule } from "../registry.js";

type ConvArgs<O> = [Tensor, Tensor, (Tensor | null)?, O?];

const pair = (v: number | readonly [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === "number" ? [v, v] : [v[0], v[1]];

function attrsOf(o: Conv2dOptions = {}) {
  return {
    stride: pair(o.stride, 1),
    padding: pair(o.padding, 0),
    dilation: pair(o.dilation, 1),
    groups: o.groups ?? 1,
  };
}

/** Adds a batch dim of one to an unbatched [C,H,W] tensor. */
const as4d = (t: Tensor): Tensor => (t.rank === 3 ? t.unsqueeze(0) : t);

/**
 * d/dw of conv2d(x, w) with w [O, C/g, kh, kw], from x [N,C,H,W] and gy [N,O,Ho,Wo]:
 * dw[o,c,i,j] = Σ_{n,ho,wo} gy[n,o,ho,wo] · xpad[n, g(o)·C/g + c, ho·s + i·d, wo·s + j·d],
 * a grouped conv2d of x with channels [C/g, g·N] by gy as weight [O, N, Ho, Wo], with stride and
 * dilation swapped. Its output can exceed the kernel (rows no window reached): sliced off.
 */
function weightGrad(x: Tensor, gy: Tensor, wShape: readonly number[], a: ReturnType<typeof attrsOf>): Tensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [, , kh, kw] = wShape as [number, number, number, number];
  const g = a.groups;
  const xt = x
    .reshape([N, g, C / g, H, W])
    .permute(2, 1, 0, 3, 4)
    .reshape([C / g, g * N, H, W]);
  const gt = gy.permute(1, 0, 2, 3); // [O, N, Ho, Wo]
  const dw = conv2d(xt, gt, null, { stride: a.dilation, padding: a.padding, dilation: a.stride, groups: g });
  return dw.permute(1, 0, 2, 3).slice(2, 0, kh).slice(3, 0, kw);
}

const biasGrad = (gy: Tensor): Tensor => gy.sum([0, 2, 3]);

const convInputs = ([x, w, b]: readonly unknown[]) => [
  x as Tensor,
  w as Tensor,
  (b as Tensor | null) ?? null,
];

registerGradRule<ConvArgs<Conv2dOptions>>("conv2d", {
  inputs: convInputs,
  applies: ([x]) => hasFused(x, "conv2d"),
  save: ([x, w], _out, needs) => [needs[1] ? x : null, needs[0] ? w : null],
  backward: (grads, ctx) => {
    const a = attrsOf(ctx.args[3]);
    const [x, w] = ctx.saved;
    const xShape = ctx.inputs[0]!.shape;
    const wShape = ctx.inputs[1]!.shape;
    const gy = as4d(grads[0]!);
    let gx: Tensor | null = null;
    if (ctx.needs[0]) {
      const [H, W] = xShape.slice(-2) as [number, number];
      const [Ho, Wo] = gy.shape.slice(2) as [number, number];
      const full = (i: 0 | 1, out: number) =>
        (out - 1) * a.stride[i] - 2 * a.padding[i] + a.dilation[i] * (wShape[2 + i]! - 1) + 1;
      const g4 = convTranspose2d(gy, w!, null, {
        ...a,
        outputPadding: [H - full(0, Ho), W - full(1, Wo)],
      });
      gx = g4.reshape(xShape);
    }
    return [
      gx,
      ctx.needs[1] ? weightGrad(as4d(x!), gy, wShape, a) : null,
      ctx.needs[2] ? biasGrad(gy) : null,
    ];
  },
});

registerGradRule<ConvArgs<ConvTranspose2dOptions>>("convTranspose2d", {
  inputs: convInputs,
  applies: ([x]) => hasFused(x, "convTranspose2d"),
  save: ([x, w], _out, needs) => [needs[1] ? x : null, needs[0] ? w : null],
  backward: (grads, ctx) => {
    const a = attrsOf(ctx.args[3]);
    const [x, w] = ctx.saved;
    const xShape = ctx.inputs[0]!.shape;
    const [H, W] = xShape.slice(-2) as [number, number];
    const gy = as4d(grads[0]!);
    // With outputPadding ≥ stride (allowed below the dilation) the conv reaches past the input: cropped.
    const gx = ctx.needs[0] ? conv2d(gy, w!, null, a).slice(2, 0, H).slice(3, 0, W).reshape(xShape) : null;
    // convTranspose2d(x, w) is conv2d's input gradient, so its weight gradient is conv2d's with x and gy swapped.
    return [
      gx,
      ctx.needs[1] ? weightGrad(gy, as4d(x!), ctx.inputs[1]!.shape, a) : null,
      ctx.needs[2] ? biasGrad(gy) : null,
    ];
  },
});
