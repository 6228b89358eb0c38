/** Normalisation layers: LayerNorm (and the batch and group norms below it). */
import { empty, layerNorm, type Tensor } from "@tessera/core";
import * as init from "./init.js";
import { formatFloat, Module } from "./module.js";

export interface LayerNormOptions {
  /** Added to the variance inside the square root (default 1e-5, PyTorch's). */
  eps?: number;
  /** Learnable per-element weight (initialised to 1) and bias (to 0); default true. */
  elementwiseAffine?: boolean;
}

/**
 * Normalises over the trailing `normalizedShape` dims with the biased variance, then scales and
 * shifts (PyTorch's `nn.LayerNorm`; keys `weight`, `bias`).
 *
 * @example
 * const norm = new LayerNorm(64);
 * const y = norm.forward(randn([8, 197, 64])); // each token: mean 0, variance 1, then affine
 */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    for (const d of this.normalizedShape) {
      if (!Number.isInteger(d) || d < 0)
        throw new RangeError(
          `LayerNorm: normalizedShape must hold non-negative integers, got [${this.normalizedShape}]`,
        );
    }
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = this.registerParameter("weight", affine ? init.ones(empty(this.normalizedShape)) : null);
    this.bias = this.registerParameter("bias", affine ? init.zeros(empty(this.normalizedShape)) : null);
  }

  override forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `(${this.normalizedShape.join(", ")}${this.normalizedShape.length === 1 ? "," : ""}), eps=${formatFloat(this.eps)}, elementwise_affine=${this.weight ? "True" : "False"}`;
  }
}
