/**
 * 2-D convolution and transposed convolution (torch.nn.functional.conv2d / conv_transpose2d).
 * Fused kernel when the backend has one; otherwise a composite:
 * - conv2d: im2col (unfold views of the padded input, one copy) and a grouped batched matmul;
 * - convTranspose2d: a stride-1 conv2d of the zero-stuffed, padded input with the flipped kernel
 *   whose in/out channel axes are swapped per group.
 */
import type { ConvAttrs, ConvTransposeAttrs } from "../backend.js";
import { tidy } from "../engine.js";
import { fmtShape } from "../shape.js";
import { Tensor } from "../tensor.js";
import { traced } from "../trace.js";
import { zeros } from "./creation.js";
import { sameBackend } from "./dispatch.js";
import { add } from "./elementwise.js";
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
import { matmul } from "./linalg.js";
import { flip } from "./manipulation.js";

export type { IntPair };

export interface Conv2dOptions {
  stride?: IntPair;
  padding?: IntPair;
  dilation?: IntPair;
  groups?: number;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/columns added on the bottom/right of the output; must be < stride or < dilation. */
  outputPadding?: IntPair;
}

function checkOperands(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined): void {
  sameBackend(op, { x, weight, bias });
  requireFloat(op, x);
  if (weight.rank !== 4) throw new RangeError(`${op}: weight must be 4-D, got ${fmtShape(weight.shape)}`);
  for (const [name, t] of [
    ["weight", weight],
    ["bias", bias],
  ] as const) {
    if (t && t.dtype !== x.dtype) throw new TypeError(`${op}: ${name} is ${t.dtype} but input is ${x.dtype}`);
  }
}

function checkBias(op: string, bias: Tensor | null | undefined, channels: number): void {
  if (bias && (bias.rank !== 1 || bias.shape[0] !== channels)) {
    throw new RangeError(
      `${op}: bias must have shape [${channels}] (one per output channel), got ${fmtShape(bias.shape)}`,
    );
  }
}

function outSize(op: string, x: Tensor, weight: Tensor, sizes: [number, number]): void {
  if (sizes[0] <= 0 || sizes[1] <= 0) {
    throw new RangeError(
      `${op}: output size ${fmtShape(sizes)} is too small (input ${fmtShape(x.shape)}, weight ${fmtShape(weight.shape)}); ` +
        "use a larger input, more padding or a smaller kernel",
    );
  }
}

/** y + bias per channel; consumes `y`. */
function addBias(y: Tensor, bias: Tensor | null | undefined): Tensor {
  if (!bias) return y;
  try {
    return tidy(() => add(y, bias.reshape([bias.shape[0]!, 1, 1])));
  } finally {
    y.dispose();
  }
}

/** Validated conv2d on a 4-D input; `attrs` already normalised. */
function conv2dCore(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  attrs: ConvAttrs,
  outShape: number[],
): Tensor {
  const kernel = fusedKernel(x.backend, "conv2d");
  if (kernel && numelOf(outShape) > 0) {
    return withContiguous([x, weight, bias], ([xc, wc, bc]) => {
      const out = Tensor.empty(outShape, x.dtype, x.backend);
      kernel(xc!.kernelView, wc!.kernelView, bc?.kernelView ?? null, attrs, out.kernelView);
      return out;
    });
  }
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, Cg, kh, kw] = weight.shape as [number, number, number, number];
  const [, , Ho, Wo] = outShape as [number, number, number, number];
  const g = attrs.groups;
  const [ph, pw] = attrs.padding;
  if (numelOf(outShape) === 0 || Cg * kh * kw === 0) {
    return addBias(zeros(outShape, { dtype: x.dtype, backend: x.backendName }), bias);
  }
  return tidy(() => {
    const xp = ph > 0 || pw > 0 ? placeInto(x, [N, C, H + 2 * ph, W + 2 * pw], 0, [ph, pw]) : x;
    const win = windows(xp, [kh, kw], attrs.stride, attrs.dilation);
    // im2col: [N, g, Cg·kh·kw, Ho·Wo], ordered like the weight's (C, kh, kw) rows.
    const cols = win
      .reshape([N, g, Cg, Ho, Wo, kh, kw])
      .permute(0, 1, 2, 5, 6, 3, 4)
      .reshape([N, g, Cg * kh * kw, Ho * Wo]);
    const w3 = weight.reshape([g, O / g, Cg * kh * kw]);
    const y = matmul(w3, cols).reshape(outShape); // [N, g, O/g, L] → [N,O,Ho,Wo]
    return addBias(y, bias);
  });
}

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Stride, padding, dilation and groups of either conv, validated the same way. */
function convAttrs(op: string, opts: Conv2dOptions): ConvAttrs {
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1)
    throw new RangeError(`${op}: groups must be a positive integer, got ${groups}`);
  return {
    stride: intPair(op, "stride", opts.stride, 1, 1),
    padding: intPair(op, "padding", opts.padding, 0, 0),
    dilation: intPair(op, "dilation", opts.dilation, 1, 1),
    groups,
  };
}

/**
 * 2-D cross-correlation like torch.nn.functional.conv2d.
 * x [N,C,H,W] (or unbatched [C,H,W]), weight [O, C/groups, kh, kw], bias [O] → [N,O,Ho,Wo] with
 * Ho = ⌊(H + 2·padding − dilation·(kh−1) − 1) / stride⌋ + 1.
 */
export const conv2d = traced(
  "conv2d",
  function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
    const op = "conv2d";
    checkOperands(op, x, weight, bias);
    const attrs = convAttrs(op, opts);
    const g = attrs.groups;
    const { x4, unbatch } = batched(op, x);
    try {
      const [N, C, H, W] = x4.shape as [number, number, number, number];
      const [O, Cg, kh, kw] = weight.shape as [number, number, number, number];
      const ctx = `(input ${fmtShape(x.shape)}, weight ${fmtShape(weight.shape)}, groups ${g})`;
      if (C % g !== 0)
        throw new RangeError(`${op}: groups ${g} does not divide the ${C} input channels ${ctx}`);
      if (O % g !== 0)
        throw new RangeError(`${op}: groups ${g} does not divide the ${O} output channels ${ctx}`);
      if (Cg * g !== C) {
        throw new RangeError(
          `${op}: weight has ${Cg} input channels per group but input has ${C} channels ${ctx}`,
        );
      }
      checkBias(op, bias, O);
      const [sh, sw] = attrs.stride;
      const [ph, pw] = attrs.padding;
      const [dh, dw] = attrs.dilation;
      const Ho = Math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
      const Wo = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
      outSize(op, x, weight, [Ho, Wo]);
      return unbatch(conv2dCore(x4, weight, bias, attrs, [N, O, Ho, Wo]));
    } finally {
      x4.dispose();
    }
  },
);

/**
 * 2-D transposed convolution like torch.nn.functional.conv_transpose2d.
 * x [N,Cin,H,W] (or [Cin,H,W]), weight [Cin, Cout/groups, kh, kw], bias [Cout] → [N,Cout,Ho,Wo] with
 * Ho = (H−1)·stride − 2·padding + dilation·(kh−1) + outputPadding + 1.
 */
export const convTranspose2d = traced(
  "convTranspose2d",
  function convTranspose2d(
    x: Tensor,
    weight: Tensor,
    bias?: Tensor | null,
    opts: ConvTranspose2dOptions = {},
  ): Tensor {
    const op = "convTranspose2d";
    checkOperands(op, x, weight, bias);
    const attrs: ConvTransposeAttrs = {
      ...convAttrs(op, opts),
      outputPadding: intPair(op, "outputPadding", opts.outputPadding, 0, 0),
    };
    const g = attrs.groups;
    const { x4, unbatch } = batched(op, x);
    try {
      const [N, C, H, W] = x4.shape as [number, number, number, number];
      const [Cw, Og, kh, kw] = weight.shape as [number, number, number, number];
      const ctx = `(input ${fmtShape(x.shape)}, weight ${fmtShape(weight.shape)}, groups ${g})`;
      if (Cw !== C)
        throw new RangeError(`${op}: weight has ${Cw} input channels but input has ${C} channels ${ctx}`);
      if (C % g !== 0)
        throw new RangeError(`${op}: groups ${g} does not divide the ${C} input channels ${ctx}`);
      const O = Og * g;
      checkBias(op, bias, O);
      const [sh, sw] = attrs.stride;
      const [ph, pw] = attrs.padding;
      const [dh, dw] = attrs.dilation;
      const [oph, opw] = attrs.outputPadding;
      for (const [i, axis] of [
        [0, "height"],
        [1, "width"],
      ] as const) {
        const o = attrs.outputPadding[i];
        if (o >= attrs.stride[i] && o >= attrs.dilation[i]) {
          throw new RangeError(
            `${op}: outputPadding ${o} (${axis}) must be smaller than stride ${attrs.stride[i]} or dilation ${attrs.dilation[i]}`,
          );
        }
      }
      const Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1;
      const Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
      outSize(op, x, weight, [Ho, Wo]);
      const outShape = [N, O, Ho, Wo];
      const kernel = fusedKernel(x.backend, op);
      if (kernel && numelOf(outShape) > 0) {
        return unbatch(
          withContiguous([x4, weight, bias], ([xc, wc, bc]) => {
            const out = Tensor.empty(outShape, x.dtype, x.backend);
            kernel(xc!.kernelView, wc!.kernelView, bc?.kernelView ?? null, attrs, out.kernelView);
            return out;
          }),
        );
      }
      if (numelOf(outShape) === 0 || C === 0) {
        return unbatch(addBias(zeros(outShape, { dtype: x.dtype, backend: x.backendName }), bias));
      }
      return unbatch(
        tidy(() => {
          // Zero-stuff (stride−1 zeros between inputs), pad by dilation·(k−1) − padding on each side (a crop
          // when negative) plus outputPadding on the bottom/right, then correlate with the flipped kernel.
          const lo = [dh * (kh - 1) - ph, dw * (kw - 1) - pw];
          const hi = [lo[0]! + oph, lo[1]! + opw];
          const stuffed = [(H - 1) * sh + 1, (W - 1) * sw + 1];
          const big = [0, 1].map((i) => Math.max(lo[i]!, 0) + stuffed[i]! + Math.max(hi[i]!, 0));
          const buf = placeInto(
            x4,
            [N, C, big[0]!, big[1]!],
            0,
            [Math.max(lo[0]!, 0), Math.max(lo[1]!, 0)],
            [sh, sw],
          );
          const xz = buf
            .slice(2, Math.max(-lo[0]!, 0), big[0]! - Math.max(-hi[0]!, 0))
            .slice(3, Math.max(-lo[1]!, 0), big[1]! - Math.max(-hi[1]!, 0));
          const wt = flip(weight.reshape([g, C / g, Og, kh, kw]).permute(0, 2, 1, 3, 4), [3, 4]).reshape([
            O,
            C / g,
            kh,
            kw,
          ]);
          // Through the traced conv2d, so autograd sees it when only conv2d has a fused kernel.
          return conv2d(xz, wt, bias, { dilation: attrs.dilation, groups: g });
        }),
      );
    } finally {
      x4.dispose();
    }
  },
);
