/** Pooling modules (PyTorch's `nn.MaxPool2d`, `nn.AvgPool2d`, `nn.AdaptiveAvgPool2d`) over core's ops. */
import {
  type AvgPool2dOptions,
  adaptiveAvgPool2d,
  avgPool2d,
  type IntPair,
  intPair,
  type MaxPool2dOptions,
  maxPool2d,
  type Tensor,
} from "@tessera/core";
import { Module } from "./module.js";

/** An int-or-pair argument as PyTorch prints it: as it was given. */
const show = (v: IntPair) => (typeof v === "number" ? String(v) : `(${v[0]}, ${v[1]})`);

/**
 * Max over `kernelSize` windows of [N,C,H,W] (or [C,H,W]) inputs; stride defaults to the kernel.
 *
 * @example
 * new MaxPool2d(2).forward(randn([8, 16, 32, 32])); // [8, 16, 16, 16]
 */
export class MaxPool2d extends Module {
  readonly kernelSize: [number, number];

  constructor(
    private readonly given: IntPair,
    readonly options: MaxPool2dOptions = {},
  ) {
    super();
    const kernelSize = given;
    this.kernelSize = intPair("MaxPool2d", "kernelSize", kernelSize, 1, 1);
  }

  override forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.options);
  }

  override extraRepr(): string {
    const o = this.options;
    return `kernel_size=${show(this.given)}, stride=${show(o.stride ?? this.given)}, padding=${show(o.padding ?? 0)}, dilation=${show(o.dilation ?? 1)}, ceil_mode=${o.ceilMode ? "True" : "False"}`;
  }
}

/**
 * Mean over `kernelSize` windows; padded zeros count in the divisor unless `countIncludePad: false`.
 *
 * @example
 * new AvgPool2d(3, { stride: 2, padding: 1 }).forward(randn([1, 4, 13, 11])); // [1, 4, 7, 6]
 */
export class AvgPool2d extends Module {
  readonly kernelSize: [number, number];

  constructor(
    private readonly given: IntPair,
    readonly options: AvgPool2dOptions = {},
  ) {
    super();
    const kernelSize = given;
    this.kernelSize = intPair("AvgPool2d", "kernelSize", kernelSize, 1, 1);
  }

  override forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.options);
  }

  override extraRepr(): string {
    const o = this.options;
    return `kernel_size=${show(this.given)}, stride=${show(o.stride ?? this.given)}, padding=${show(o.padding ?? 0)}`;
  }
}

/**
 * Mean over PyTorch's adaptive windows so the output is `outputSize` ([1, 1] is global average pooling).
 *
 * @example
 * new AdaptiveAvgPool2d(1).forward(randn([8, 512, 7, 7])); // [8, 512, 1, 1]
 */
export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: [number, number];

  constructor(private readonly given: IntPair) {
    super();
    this.outputSize = intPair("AdaptiveAvgPool2d", "outputSize", given, 1, 1);
  }

  override forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }

  override extraRepr(): string {
    return `output_size=${show(this.given)}`;
  }
}
