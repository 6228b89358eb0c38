/** Embedding: a lookup table of learnable rows (PyTorch's `nn.Embedding`, key `weight`). */
import { noGrad } from "@tessera/autograd";
import { embedding, empty, fmtShape, isFloating, type Tensor } from "@tessera/core";
import * as init from "./init.js";
import { Module } from "./module.js";

export interface EmbeddingModuleOptions extends init.InitOptions {
  /**
   * A row that is initialised to zero and never receives a gradient (a padding token). Negative
   * values count from the end, as in PyTorch; `paddingIdx` holds the non-negative index.
   */
  paddingIdx?: number | null;
  /**
   * Use this `[numEmbeddings, embeddingDim]` tensor as the weight instead of drawing one (PyTorch's
   * `_weight`): the module holds a detached view sharing its memory, and the padding row is left as is.
   */
  weight?: Tensor;
}

export interface FromPretrainedOptions {
  /** Keep the weight out of training (`requiresGrad = false`); default true, as in PyTorch. */
  freeze?: boolean;
  paddingIdx?: number | null;
}

/**
 * Maps int32 indices of any shape to rows of a `[numEmbeddings, embeddingDim]` table:
 * `[…] → […, embeddingDim]`. The weight starts from N(0, 1) with the `paddingIdx` row zeroed, as in PyTorch.
 *
 * @example
 * const emb = new Embedding(1000, 64, { paddingIdx: 0 });
 * const tokens = tensor(new Int32Array([5, 42, 0, 0]), { shape: [1, 4] });
 * const h = emb.forward(tokens); // [1, 4, 64]; rows 2 and 3 are zero
 */
export class Embedding extends Module {
  readonly paddingIdx: number | null;
  readonly weight: Tensor;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: EmbeddingModuleOptions = {},
  ) {
    super();
    for (const [k, v] of [
      ["numEmbeddings", numEmbeddings],
      ["embeddingDim", embeddingDim],
    ] as const) {
      if (!Number.isInteger(v) || v < 0)
        throw new RangeError(`Embedding: ${k} must be a non-negative integer, got ${v}`);
    }
    const pi = opts.paddingIdx ?? null;
    if (pi !== null && (!Number.isInteger(pi) || pi < -numEmbeddings || pi >= numEmbeddings)) {
      throw new RangeError(
        `Embedding: paddingIdx must be an integer within [-${numEmbeddings}, ${numEmbeddings}) (numEmbeddings), got ${pi}`,
      );
    }
    this.paddingIdx = pi !== null && pi < 0 ? pi + numEmbeddings : pi;
    const given = opts.weight;
    if (given) {
      if (given.rank !== 2 || given.shape[0] !== numEmbeddings || given.shape[1] !== embeddingDim) {
        throw new RangeError(
          `Embedding: weight must have shape [${numEmbeddings}, ${embeddingDim}], got ${fmtShape(given.shape)}`,
        );
      }
      if (!isFloating(given.dtype))
        throw new TypeError(`Embedding: weight must be floating point, got ${given.dtype}`);
      this.weight = this.registerParameter("weight", given.detach());
    } else {
      this.weight = this.registerParameter("weight", empty([numEmbeddings, embeddingDim]));
      this.resetParameters(opts);
    }
  }

  /**
   * A module around an existing `[numEmbeddings, embeddingDim]` table (PyTorch's
   * `Embedding.from_pretrained`): the module's weight shares the tensor's memory and is frozen unless
   * `freeze: false`. The padding row is not zeroed.
   *
   * @example
   * const emb = Embedding.fromPretrained(tensor([[1, 2], [3, 4]]));
   * emb.weight.requiresGrad; // false
   */
  static fromPretrained(weight: Tensor, opts: FromPretrainedOptions = {}): Embedding {
    if (weight.rank !== 2) {
      throw new RangeError(
        `Embedding.fromPretrained: embeddings must be 2-D [numEmbeddings, embeddingDim], got ${fmtShape(weight.shape)}`,
      );
    }
    const m = new Embedding(weight.shape[0]!, weight.shape[1]!, { weight, paddingIdx: opts.paddingIdx });
    m.weight.requiresGrad = !(opts.freeze ?? true);
    return m;
  }

  /** PyTorch's default: N(0, 1), then the padding row set to zero. */
  resetParameters(opts: init.InitOptions = {}): void {
    init.normal(this.weight, 0, 1, opts);
    const pi = this.paddingIdx;
    if (pi === null) return;
    noGrad(() => {
      const row = this.weight.select(0, pi);
      try {
        init.zeros(row);
      } finally {
        row.dispose();
      }
    });
  }

  override forward(indices: Tensor): Tensor {
    if (indices.dtype !== "int32") {
      throw new TypeError(
        `Embedding: indices must be int32, got ${indices.dtype} (shape ${fmtShape(indices.shape)})`,
      );
    }
    return embedding(this.weight, indices, { paddingIdx: this.paddingIdx });
  }

  override extraRepr(): string {
    const pad = this.paddingIdx !== null ? `, padding_idx=${this.paddingIdx}` : "";
    return `${this.numEmbeddings}, ${this.embeddingDim}${pad}`;
  }
}
