/** Activation modules: thin wrappers over core's ops, for Sequential and model configs. */
import { gelu, relu, sigmoid, silu, softmax, type Tensor, tanh } from "@tessera/core";
import { Module } from "./module.js";

/**
 * max(x, 0), elementwise (PyTorch's `nn.ReLU`).
 *
 * @example
 * new Sequential(new Linear(4, 8), new ReLU());
 */
export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/**
 * The Gaussian error linear unit, exact (`'none'`, erf) or with the tanh approximation (PyTorch's `nn.GELU`).
 *
 * @example
 * new GELU().forward(x); new GELU("tanh").forward(x);
 */
export class GELU extends Module {
  constructor(readonly approximate: "none" | "tanh" = "none") {
    super();
    if (approximate !== "none" && approximate !== "tanh")
      throw new RangeError(`GELU: approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
  }

  override forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }

  override extraRepr(): string {
    return this.approximate === "none" ? "" : `approximate='${this.approximate}'`;
  }
}

/**
 * x·sigmoid(x) (PyTorch's `nn.SiLU`).
 *
 * @example
 * new SiLU().forward(x);
 */
export class SiLU extends Module {
  override forward(x: Tensor): Tensor {
    return silu(x);
  }
}

/**
 * tanh(x) (PyTorch's `nn.Tanh`).
 *
 * @example
 * new Tanh().forward(x);
 */
export class Tanh extends Module {
  override forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/**
 * 1 / (1 + e^−x) (PyTorch's `nn.Sigmoid`).
 *
 * @example
 * new Sigmoid().forward(logits); // probabilities
 */
export class Sigmoid extends Module {
  override forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/**
 * Softmax along `dim` (PyTorch's `nn.Softmax`; the dim is required here, as PyTorch's implicit
 * choice is deprecated).
 *
 * @example
 * new Softmax(-1).forward(scores); // rows sum to 1
 */
export class Softmax extends Module {
  constructor(readonly dim: number) {
    super();
    if (!Number.isInteger(dim)) throw new RangeError(`Softmax: dim must be an integer, got ${dim}`);
  }

  override forward(x: Tensor): Tensor {
    return softmax(x, this.dim);
  }

  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
