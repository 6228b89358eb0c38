/**
 * 2-D convolutions (PyTorch's `nn.Conv2d` and `nn.ConvTranspose2d`): keys `weight`, `bias`, PyTorch's
 * default initialisation, and core's `conv2d` / `convTranspose2d` for the computation.
 */
import {
  conv2d,
  convTranspose2d,
  empty,
  fmtShape,
  type IntPair,
  intPair,
  pad,
  type Tensor,
  tidy,
} from "@tessera/core";
import * as init from "./init.js";
import { Module } from "./module.js";

/** One int for both spatial dims, or `[h, w]`. */
export type Size2 = IntPair;

export interface Conv2dModuleOptions extends init.InitOptions {
  stride?: Size2;
  /**
   * Zero padding on each side; `'valid'` is none, `'same'` keeps the input size (stride 1 only; an
   * odd total puts the extra row/column at the bottom/right, as PyTorch does). Default 0.
   */
  padding?: Size2 | "same" | "valid";
  dilation?: Size2;
  /** Split channels into groups convolved separately (must divide both channel counts). Default 1. */
  groups?: number;
  /** Add a learnable bias (default true). */
  bias?: boolean;
}

export interface ConvTranspose2dModuleOptions extends init.InitOptions {
  stride?: Size2;
  /** Rows/columns cropped from each side of the full transposed-conv output (it shrinks by 2·padding). Default 0. */
  padding?: Size2;
  /** Extra rows/columns on the bottom/right of the output (must be < stride or < dilation). Default 0. */
  outputPadding?: Size2;
  groups?: number;
  bias?: boolean;
  dilation?: Size2;
}

function checkChannels(owner: string, inChannels: number, outChannels: number, groups: number): void {
  for (const [k, v] of [
    ["inChannels", inChannels],
    ["outChannels", outChannels],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`${owner}: ${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(groups) || groups < 1)
    throw new RangeError(`${owner}: groups must be a positive integer, got ${groups}`);
  if (inChannels % groups !== 0)
    throw new RangeError(`${owner}: inChannels ${inChannels} must be divisible by groups ${groups}`);
  if (outChannels % groups !== 0)
    throw new RangeError(`${owner}: outChannels ${outChannels} must be divisible by groups ${groups}`);
}

function checkInput(owner: string, x: Tensor, inChannels: number): void {
  if (x.rank !== 3 && x.rank !== 4) {
    throw new RangeError(`${owner}: input must be [N,C,H,W] or unbatched [C,H,W], got ${fmtShape(x.shape)}`);
  }
  const c = x.shape[x.rank - 3]!;
  if (c !== inChannels) {
    throw new RangeError(`${owner}: expected ${inChannels} input channels, got input ${fmtShape(x.shape)}`);
  }
}

const tuple = (p: readonly number[]) => `(${p.join(", ")})`;
const isDefault = (p: readonly number[], v: number) => p.every((x) => x === v);

/**
 * PyTorch's default for both convolutions: kaiming-uniform weight with a = √5 (U(±1/√fanIn)) and a
 * U(±1/√fanIn) bias, fanIn from `init.fans(weight)`.
 */
function resetConv(weight: Tensor, bias: Tensor | null, opts: init.InitOptions): void {
  init.kaimingUniform(weight, { a: Math.sqrt(5), generator: opts.generator });
  if (bias) {
    const [fanIn] = init.fans(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    init.uniform(bias, -bound, bound, opts);
  }
}

/**
 * 2-D cross-correlation over `[N, inChannels, H, W]` (or unbatched `[C, H, W]`) → `[N, outChannels, Ho, Wo]`
 * (PyTorch's `nn.Conv2d`, zeros padding mode). Weight `[out, in/groups, kh, kw]`, bias `[out]`.
 *
 * @example
 * const conv = new Conv2d(3, 16, 3, { padding: "same" });
 * const y = conv.forward(randn([8, 3, 32, 32])); // [8, 16, 32, 32]
 */
export class Conv2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  /** Symmetric padding per side, or the string it was given. */
  readonly padding: [number, number] | "same" | "valid";
  readonly dilation: [number, number];
  readonly groups: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Size2,
    opts: Conv2dModuleOptions = {},
  ) {
    super();
    this.groups = opts.groups ?? 1;
    checkChannels("Conv2d", inChannels, outChannels, this.groups);
    this.kernelSize = intPair("Conv2d", "kernelSize", kernelSize, 1, 1);
    this.stride = intPair("Conv2d", "stride", opts.stride, 1, 1);
    this.dilation = intPair("Conv2d", "dilation", opts.dilation, 1, 1);
    const p = opts.padding;
    if (p === "same" || p === "valid") {
      if (p === "same" && !isDefault(this.stride, 1)) {
        throw new RangeError(
          `Conv2d: padding 'same' is not supported for strided convolutions (stride ${tuple(this.stride)})`,
        );
      }
      this.padding = p;
    } else if (typeof p === "string") {
      throw new RangeError(`Conv2d: padding must be a number, a pair, 'same' or 'valid', got '${p}'`);
    } else {
      this.padding = intPair("Conv2d", "padding", p, 0, 0);
    }
    const [kh, kw] = this.kernelSize;
    this.weight = this.registerParameter("weight", empty([outChannels, inChannels / this.groups, kh, kw]));
    this.bias = this.registerParameter("bias", opts.bias === false ? null : empty([outChannels]));
    this.resetParameters(opts);
  }

  /** PyTorch's default: kaiming-uniform weight (a = √5) and U(±1/√fanIn) bias, fanIn = in/groups·kh·kw. */
  resetParameters(opts: init.InitOptions = {}): void {
    resetConv(this.weight, this.bias, opts);
  }

  override forward(x: Tensor): Tensor {
    checkInput("Conv2d", x, this.inChannels);
    const conv = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    if (this.padding === "valid") return conv2d(x, this.weight, this.bias, conv);
    if (this.padding !== "same") return conv2d(x, this.weight, this.bias, { ...conv, padding: this.padding });
    // 'same': total padding dilation·(k−1) per dim; PyTorch pads the odd extra at the bottom/right.
    const total = [0, 1].map((i) => this.dilation[i]! * (this.kernelSize[i]! - 1));
    const lo = total.map((t) => Math.floor(t / 2)) as [number, number];
    const extraH = total[0]! - 2 * lo[0];
    const extraW = total[1]! - 2 * lo[1];
    if (extraH === 0 && extraW === 0) return conv2d(x, this.weight, this.bias, { ...conv, padding: lo });
    return tidy(() =>
      conv2d(pad(x, [0, extraW, 0, extraH]), this.weight, this.bias, { ...conv, padding: lo }),
    );
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${tuple(this.kernelSize)}, stride=${tuple(this.stride)}`;
    if (typeof this.padding === "string") s += `, padding=${this.padding}`;
    else if (!isDefault(this.padding, 0)) s += `, padding=${tuple(this.padding)}`;
    if (!isDefault(this.dilation, 1)) s += `, dilation=${tuple(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ", bias=False";
    return s;
  }
}

/**
 * The gradient of Conv2d with respect to its input, used as an upsampling layer (PyTorch's
 * `nn.ConvTranspose2d`): `[N, in, H, W]` → `[N, out, Ho, Wo]` with
 * Ho = (H−1)·stride − 2·padding + dilation·(kh−1) + outputPadding + 1. Weight `[in, out/groups, kh, kw]`
 * (note: in before out, unlike Conv2d), bias `[out]`.
 *
 * @example
 * const up = new ConvTranspose2d(64, 32, 2, { stride: 2 });
 * const y = up.forward(randn([1, 64, 8, 8])); // [1, 32, 16, 16]
 * up.forward(randn([1, 64, 8, 8]), [17, 17]); // [1, 32, 17, 17]: outputSize picks outputPadding 1
 */
export class ConvTranspose2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Size2,
    opts: ConvTranspose2dModuleOptions = {},
  ) {
    super();
    const owner = "ConvTranspose2d";
    this.groups = opts.groups ?? 1;
    checkChannels(owner, inChannels, outChannels, this.groups);
    if (typeof (opts.padding as unknown) === "string") {
      throw new RangeError(`${owner}: padding must be a number or a pair ('same'/'valid' are Conv2d only)`);
    }
    this.kernelSize = intPair(owner, "kernelSize", kernelSize, 1, 1);
    this.stride = intPair(owner, "stride", opts.stride, 1, 1);
    this.padding = intPair(owner, "padding", opts.padding, 0, 0);
    this.outputPadding = intPair(owner, "outputPadding", opts.outputPadding, 0, 0);
    this.dilation = intPair(owner, "dilation", opts.dilation, 1, 1);
    for (const i of [0, 1]) {
      if (this.outputPadding[i]! >= this.stride[i]! && this.outputPadding[i]! >= this.dilation[i]!) {
        throw new RangeError(
          `${owner}: outputPadding ${tuple(this.outputPadding)} must be smaller than stride ${tuple(this.stride)} or dilation ${tuple(this.dilation)}`,
        );
      }
    }
    const [kh, kw] = this.kernelSize;
    this.weight = this.registerParameter("weight", empty([inChannels, outChannels / this.groups, kh, kw]));
    this.bias = this.registerParameter("bias", opts.bias === false ? null : empty([outChannels]));
    this.resetParameters(opts);
  }

  /** PyTorch's default: kaiming-uniform weight (a = √5) and U(±1/√fanIn) bias, fanIn = out/groups·kh·kw. */
  resetParameters(opts: init.InitOptions = {}): void {
    resetConv(this.weight, this.bias, opts);
  }

  /**
   * `outputSize` ([H, W], or the full [N, C, H, W] / [C, H, W]) selects the outputPadding that gives that
   * size, as PyTorch's `forward(input, output_size)` does; it must lie within stride − 1 of the smallest size.
   */
  override forward(x: Tensor, outputSize?: readonly number[]): Tensor {
    const owner = "ConvTranspose2d";
    checkInput(owner, x, this.inChannels);
    const outputPadding = outputSize ? this.outputPaddingFor(x, outputSize) : this.outputPadding;
    return convTranspose2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }

  private outputPaddingFor(x: Tensor, outputSize: readonly number[]): [number, number] {
    const owner = "ConvTranspose2d";
    const nonSpatial = x.rank - 2;
    const size = outputSize.length === x.rank ? outputSize.slice(nonSpatial) : [...outputSize];
    if (size.length !== 2) {
      throw new RangeError(
        `${owner}: for ${x.rank}-D input, outputSize must have 2 or ${x.rank} elements, got [${outputSize.join(", ")}]`,
      );
    }
    const min = [0, 1].map(
      (d) =>
        (x.shape[d + nonSpatial]! - 1) * this.stride[d]! -
        2 * this.padding[d]! +
        this.dilation[d]! * (this.kernelSize[d]! - 1) +
        1,
    );
    const max = min.map((m, d) => m + this.stride[d]! - 1);
    if (size.some((s, d) => !Number.isInteger(s) || s < min[d]! || s > max[d]!)) {
      throw new RangeError(
        `${owner}: requested an output size of [${size.join(", ")}], but valid sizes range from [${min.join(", ")}] to [${max.join(", ")}] (for an input of ${fmtShape(x.shape.slice(nonSpatial))})`,
      );
    }
    return [size[0]! - min[0]!, size[1]! - min[1]!];
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${tuple(this.kernelSize)}, stride=${tuple(this.stride)}`;
    if (!isDefault(this.padding, 0)) s += `, padding=${tuple(this.padding)}`;
    if (!isDefault(this.dilation, 1)) s += `, dilation=${tuple(this.dilation)}`;
    if (!isDefault(this.outputPadding, 0)) s += `, output_padding=${tuple(this.outputPadding)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ", bias=False";
    return s;
  }
}
