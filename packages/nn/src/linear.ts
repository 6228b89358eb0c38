/** Linear: y = x·Wᵀ + b (PyTorch's `nn.Linear`, same keys and initialisation). */
import { empty, linear, type Tensor } from "@tessera/core";
import * as init from "./init.js";
import { Module } from "./module.js";

export interface LinearOptions extends init.InitOptions {
  /** Add a learnable bias (default true). */
  bias?: boolean;
}

/**
 * Applies `y = x·Wᵀ + b` over the last dim: `[…, inFeatures] → […, outFeatures]`. Weight `[out, in]`
 * and bias `[out]` start from U(−1/√in, 1/√in), as in PyTorch.
 *
 * @example
 * const fc = new Linear(784, 10);
 * const logits = fc.forward(randn([32, 784])); // [32, 10]
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    for (const [k, v] of [
      ["inFeatures", inFeatures],
      ["outFeatures", outFeatures],
    ] as const) {
      if (!Number.isInteger(v) || v < 0)
        throw new RangeError(`Linear: ${k} must be a non-negative integer, got ${v}`);
    }
    this.weight = this.registerParameter("weight", empty([outFeatures, inFeatures]));
    this.bias = this.registerParameter("bias", opts.bias === false ? null : empty([outFeatures]));
    this.resetParameters(opts);
  }

  /** PyTorch's default: kaiming-uniform weight (a = √5, i.e. U(±1/√in)) and U(±1/√in) bias. */
  resetParameters(opts: init.InitOptions = {}): void {
    init.kaimingUniform(this.weight, { a: Math.sqrt(5), generator: opts.generator });
    if (this.bias) {
      const bound = this.inFeatures > 0 ? 1 / Math.sqrt(this.inFeatures) : 0;
      init.uniform(this.bias, -bound, bound, opts);
    }
  }

  override forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? "True" : "False"}`;
  }
}
