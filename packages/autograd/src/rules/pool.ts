/**
 * maxPool2d, avgPool2d and adaptiveAvgPool2d. Backward needs the window geometry of the forward:
 * output cell (ho, wo) reads padded rows ho·s + i·d, i < k (the same for columns).
 * - maxPool2d: the whole gradient of a window goes to its first maximum (PyTorch's index), recomputed
 *   from the saved input with argmax over window views and scattered back;
 * - avgPool2d: each window spreads g / divisor evenly: a transposed conv with a ones kernel, then the
 *   padding cropped off;
 * - adaptiveAvgPool2d: separable averaging matrices A_h [Ho,H], A_w [Wo,W]; dx = A_hᵀ · g · A_w.
 * The rules apply only where the backend has the fused kernel; elsewhere core's composite is differentiated.
 */
import {
  type AvgPool2dOptions,
  argmax,
  avgPoolDivisors,
  convTranspose2d,
  type IntPair,
  indexSelect,
  type MaxPool2dOptions,
  matmul,
  ones,
  pad,
  scatterAdd,
  type Tensor,
  tensor,
  zeros,
} from "@tessera/core";
import { hasFused, registerGradRule } from "../registry.js";

const pair = (v: IntPair | undefined, d: readonly [number, number]): [number, number] =>
  v === undefined ? [d[0], d[1]] : typeof v === "number" ? [v, v] : [v[0], v[1]];

/** Adds a batch dim of one to an unbatched [C,H,W] tensor. */
const as4d = (t: Tensor): Tensor => (t.rank === 3 ? t.unsqueeze(0) : t);

registerGradRule<[Tensor, IntPair, MaxPool2dOptions?]>("maxPool2d", {
  applies: ([x]) => hasFused(x, "maxPool2d"),
  save: ([x]) => [x],
  backward: (grads, ctx) => {
    const [, kernel, opts = {}] = ctx.args;
    const k = pair(kernel, [1, 1]);
    const s = pair(opts.stride, k);
    const [ph, pw] = pair(opts.padding, [0, 0]);
    const [dh, dw] = pair(opts.dilation, [1, 1]);
    const x = as4d(ctx.saved[0]!);
    const g = as4d(grads[0]!);
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const [Ho, Wo] = g.shape.slice(2) as [number, number];
    // Large enough for every window, like core's composite: the padding, and a ceil-mode last window.
    const hb = Math.max((Ho - 1) * s[0] + dh * (k[0] - 1) + 1, H + ph);
    const wb = Math.max((Wo - 1) * s[1] + dw * (k[1] - 1) + 1, W + pw);
    const xp = pad(x, [pw, wb - W - pw, ph, hb - H - ph], Number.NEGATIVE_INFINITY);
    const win = xp
      .unfold(2, dh * (k[0] - 1) + 1, s[0])
      .slice(4, 0, undefined, dh)
      .unfold(3, dw * (k[1] - 1) + 1, s[1])
      .slice(5, 0, undefined, dw)
      .slice(2, 0, Ho)
      .slice(3, 0, Wo); // [N,C,Ho,Wo,kh,kw]
    const first = argmax(win.reshape([N, C, Ho, Wo, k[0] * k[1]]), 4); // row-major in the window, like torch
    // Flat position in the padded [hb, wb] plane: window origin + offset of the winning tap.
    const offsets = new Int32Array(k[0] * k[1]);
    for (let i = 0; i < k[0]; i++)
      for (let j = 0; j < k[1]; j++) offsets[i * k[1] + j] = i * dh * wb + j * dw;
    const origins = new Int32Array(Ho * Wo);
    for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) origins[i * Wo + j] = i * s[0] * wb + j * s[1];
    const be = { backend: x.backendName, dtype: "int32" as const };
    const pos = indexSelect(tensor(offsets, be), 0, first.reshape([-1]))
      .reshape([N, C, Ho * Wo])
      .add(tensor(origins, be));
    const gp = scatterAdd(
      zeros([N, C, hb * wb], { dtype: g.dtype, backend: g.backendName }),
      2,
      pos,
      g.reshape([N, C, Ho * Wo]),
    );
    return [
      gp
        .reshape([N, C, hb, wb])
        .slice(2, ph, ph + H)
        .slice(3, pw, pw + W)
        .reshape(ctx.inputs[0]!.shape),
    ];
  },
});

registerGradRule<[Tensor, IntPair, AvgPool2dOptions?]>("avgPool2d", {
  applies: ([x]) => hasFused(x, "avgPool2d"),
  backward: (grads, ctx) => {
    const [, kernel, opts = {}] = ctx.args;
    const k = pair(kernel, [1, 1]);
    const s = pair(opts.stride, k);
    const p = pair(opts.padding, [0, 0]);
    const g = as4d(grads[0]!);
    const xShape = ctx.inputs[0]!.shape;
    const [H, W] = xShape.slice(-2) as [number, number];
    const [N, C, Ho, Wo] = g.shape as [number, number, number, number];
    const include = opts.countIncludePad ?? true;
    const dh = avgPoolDivisors(H, Ho, k[0], s[0], p[0], include);
    const dw = avgPoolDivisors(W, Wo, k[1], s[1], p[1], include);
    const divisor = new Float64Array(Ho * Wo);
    for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) divisor[i * Wo + j] = dh[i]! * dw[j]!;
    const be = { dtype: g.dtype, backend: g.backendName };
    const share = g.div(tensor(divisor, { ...be, shape: [Ho, Wo] })).reshape([N * C, 1, Ho, Wo]);
    // Every window tap receives its window's share: [N·C, 1, (Ho−1)·s + k, …] over the padded plane.
    const spread = convTranspose2d(share, ones([1, 1, k[0], k[1]], be), null, { stride: s });
    const [Hf, Wf] = spread.shape.slice(2) as [number, number];
    // Crop the padding (and a ceil-mode window's overhang); rows no window reached get zeros.
    return [pad(spread, [-p[1], W + p[1] - Wf, -p[0], H + p[0] - Hf]).reshape(xShape)];
  },
});

/** The [out, n] matrix averaging window i = [⌊i·n/out⌋, ⌈(i+1)·n/out⌉) into row i. */
function adaptiveMatrix(n: number, out: number): Float64Array {
  const m = new Float64Array(out * n);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * n) / out);
    const end = Math.ceil(((i + 1) * n) / out);
    for (let j = start; j < end; j++) m[i * n + j] = 1 / (end - start);
  }
  return m;
}

registerGradRule<[Tensor, number | readonly [number | null, number | null]]>("adaptiveAvgPool2d", {
  applies: ([x]) => hasFused(x, "adaptiveAvgPool2d"),
  backward: (grads, ctx) => {
    const g = grads[0]!;
    const [H, W] = ctx.inputs[0]!.shape.slice(-2) as [number, number];
    const [Ho, Wo] = g.shape.slice(-2) as [number, number];
    const be = { dtype: g.dtype, backend: g.backendName };
    const ahT = tensor(adaptiveMatrix(H, Ho), { ...be, shape: [Ho, H] }).transpose(0, 1);
    const aw = tensor(adaptiveMatrix(W, Wo), { ...be, shape: [Wo, W] });
    return [matmul(matmul(ahT, g), aw)]; // [H,Ho]·[…,Ho,Wo]·[Wo,W]
  },
});
