/**
 * The Keras "text classification with Transformer" example of the seeds, with the state-dict keys
 * of the PyTorch reference (`TextClassifier` in shared/fixtures/torch/reference_models.py).
 *
 *   ids [B,L] int32 → token_emb [B,L,D] + pos_emb(arange L) [L,D] → tokens [B,L,D]
 *     → transformer_block (post-norm, LN eps 1e-6):
 *         x = layernorm1(x + dropout1(att(x,x,x)));  x = layernorm2(x + dropout2(ffn(x)))   [B,L,D]
 *     → mean over L (global average pooling; padding id 0 excluded with `maskPadding`)  [B,D]
 *     → dropout → dense1 [B,20] → ReLU → dropout → dense2 → logits [B,K]
 */
import { type Generator, type Tensor, tidy } from "@tessera/core";
import {
  Dropout,
  Embedding,
  LayerNorm,
  Linear,
  Module,
  MultiheadAttention,
  ReLU,
  Sequential,
} from "@tessera/nn";
import { attentionLayers } from "./attention-tools.js";

export interface TextClassifierOptions {
  /** Vocabulary size; id 0 is padding (default 20000, the Keras example's). */
  vocabSize?: number;
  /** Longest sequence (rows of `pos_emb`; default 200). */
  maxlen?: number;
  /** Embedding size D (default 32). */
  embedDim?: number;
  /** Attention heads; D is split across them, head dim D/heads as in torch (default 2). */
  numHeads?: number;
  /** Hidden size of the block's feed-forward network (default 32). */
  ffDim?: number;
  /** Width of `dense1` (default 20). */
  hiddenDim?: number;
  /** Output classes K (default 2). */
  numClasses?: number;
  /** Dropout in the block and around `dense1`, active in training only (default 0.1, the example's rate). */
  dropout?: number;
  /** Ignore padding (id 0): padded keys are masked in attention and left out of the mean (default false, as the seed). */
  maskPadding?: boolean;
  generator?: Generator;
}

/** Named configurations: `keras` is the seed's example, `tiny` the PyTorch fixture's. */
export const TEXT_CLASSIFIER_PRESETS = {
  keras: {
    vocabSize: 20000,
    maxlen: 200,
    embedDim: 32,
    numHeads: 2,
    ffDim: 32,
    hiddenDim: 20,
    numClasses: 2,
  },
  tiny: { vocabSize: 50, maxlen: 12, embedDim: 32, numHeads: 4, ffDim: 64, hiddenDim: 20, numClasses: 2 },
} as const satisfies Record<string, TextClassifierOptions>;

export interface TextClassifierOutput<A extends Tensor | Tensor[] = Tensor> {
  logits: Tensor;
  /**
   * Per-head attention weights of the block, [B, H, L, L]: the map itself for `returnAttention:
   * true`, a list with one map per requested index for a list (`[0]` or `[-1]`, the one block).
   */
  attention: A;
}

/**
 * Keras' `TokenAndPositionEmbedding`: a token table plus a learned table over positions 0…L−1
 * (keys `token_emb.weight`, `pos_emb.weight`).
 *
 * @example
 * const emb = new TokenAndPositionEmbedding(12, 50, 32);
 * emb.forward(tensor(new Int32Array([3, 1, 4]), { shape: [1, 3] })); // [1, 3, 32]
 */
export class TokenAndPositionEmbedding extends Module {
  readonly tokenEmb: Embedding;
  readonly posEmb: Embedding;

  constructor(
    readonly maxlen: number,
    vocabSize: number,
    embedDim: number,
    opts: { generator?: Generator } = {},
  ) {
    super();
    this.tokenEmb = this.registerModule("token_emb", new Embedding(vocabSize, embedDim, opts));
    this.posEmb = this.registerModule("pos_emb", new Embedding(maxlen, embedDim, opts));
  }

  override forward(ids: Tensor): Tensor {
    const l = ids.shape[ids.rank - 1]!;
    if (ids.rank !== 2 || l > this.maxlen)
      throw new RangeError(
        `TokenAndPositionEmbedding: ids must be [B, L] with L ≤ maxlen ${this.maxlen}, got [${ids.shape.join(",")}]`,
      );
    // [B,L,D] + [L,D]: the positions are the first L rows of the table.
    return tidy(() => this.tokenEmb.forward(ids).add(this.posEmb.weight.slice(0, 0, l)));
  }
}

/**
 * Keras' `TransformerBlock` (post-norm, LayerNorm eps 1e-6): keys `att.*` (PyTorch's
 * MultiheadAttention, batch-first), `ffn.0`, `ffn.2`, `layernorm1`, `layernorm2`.
 *
 * @example
 * const block = new TextTransformerBlock(32, 2, 32);
 * block.forward(randn([2, 10, 32])).output; // [2, 10, 32]
 */
export class TextTransformerBlock extends Module {
  readonly att: MultiheadAttention;
  readonly ffn: Sequential;
  readonly layernorm1: LayerNorm;
  readonly layernorm2: LayerNorm;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;

  constructor(
    embedDim: number,
    numHeads: number,
    ffDim: number,
    opts: { dropout?: number; generator?: Generator } = {},
  ) {
    super();
    const { generator } = opts;
    const p = opts.dropout ?? 0.1;
    this.att = this.registerModule(
      "att",
      new MultiheadAttention(embedDim, numHeads, { batchFirst: true, generator }),
    );
    this.ffn = this.registerModule(
      "ffn",
      new Sequential(
        new Linear(embedDim, ffDim, { generator }),
        new ReLU(),
        new Linear(ffDim, embedDim, { generator }),
      ),
    );
    this.layernorm1 = this.registerModule("layernorm1", new LayerNorm(embedDim, { eps: 1e-6 }));
    this.layernorm2 = this.registerModule("layernorm2", new LayerNorm(embedDim, { eps: 1e-6 }));
    this.dropout1 = this.registerModule("dropout1", new Dropout(p, { generator }));
    this.dropout2 = this.registerModule("dropout2", new Dropout(p, { generator }));
  }

  /** `keyPaddingMask` [B,L] bool (true = ignore that key); `returnAttention` gives weights [B,H,L,L]. */
  override forward(
    x: Tensor,
    opts: { keyPaddingMask?: Tensor | null; returnAttention?: boolean } = {},
  ): { output: Tensor; attention: Tensor | null } {
    return tidy(() => {
      const a = this.att.forward(x, x, x, {
        keyPaddingMask: opts.keyPaddingMask ?? null,
        needWeights: opts.returnAttention ?? false,
        averageAttnWeights: false,
      });
      const out1 = this.layernorm1.forward(x.add(this.dropout1.forward(a.output)));
      const ffn = this.dropout2.forward(this.ffn.forward(out1) as Tensor);
      return { output: this.layernorm2.forward(out1.add(ffn)), attention: a.weights };
    });
  }
}

/**
 * The seeds' Keras text transformer: token + position embedding, one post-norm transformer block,
 * global average pooling, Dense(20, relu), Dense(classes) — logits, no softmax (use `crossEntropy`).
 * Keys match PyTorch's `TextClassifier`. Ids are int32 (PyTorch's int64 ids narrow on load).
 *
 * Difference from Keras: Keras' `MultiHeadAttention(key_dim=D)` projects to `heads·D` features
 * (D per head); here, as in torch, D is split across the heads (D/heads each), so Keras weights do
 * not map one to one.
 *
 * @example
 * const model = new TextTransformerClassifier({ ...TEXT_CLASSIFIER_PRESETS.tiny, numClasses: 3 });
 * const ids = randint(0, 50, [4, 12], { dtype: "int32" });
 * const logits = model.forward(ids); // [4, 3]
 * const { attention } = model.forward(ids, { returnAttention: true }); // [4, 4, 12, 12]
 * model.forward(ids, { returnAttention: [-1] }).attention; // 1 × [4, 4, 12, 12]
 */
export class TextTransformerClassifier extends Module {
  readonly embedding: TokenAndPositionEmbedding;
  readonly transformerBlock: TextTransformerBlock;
  readonly dense1: Linear;
  readonly dense2: Linear;
  readonly config: Readonly<Required<Omit<TextClassifierOptions, "generator">>>;
  private readonly drop: Dropout;

  constructor(opts: TextClassifierOptions = {}) {
    super();
    const c = {
      ...TEXT_CLASSIFIER_PRESETS.keras,
      dropout: 0.1,
      maskPadding: false,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as Required<TextClassifierOptions>;
    const { generator } = opts;
    for (const k of [
      "vocabSize",
      "maxlen",
      "embedDim",
      "numHeads",
      "ffDim",
      "hiddenDim",
      "numClasses",
    ] as const) {
      if (!Number.isInteger(c[k]) || c[k] <= 0)
        throw new RangeError(`TextTransformerClassifier: ${k} must be a positive integer, got ${c[k]}`);
    }
    if (c.embedDim % c.numHeads !== 0)
      throw new RangeError(
        `TextTransformerClassifier: embedDim ${c.embedDim} must be divisible by numHeads ${c.numHeads}`,
      );
    this.config = {
      vocabSize: c.vocabSize,
      maxlen: c.maxlen,
      embedDim: c.embedDim,
      numHeads: c.numHeads,
      ffDim: c.ffDim,
      hiddenDim: c.hiddenDim,
      numClasses: c.numClasses,
      dropout: c.dropout,
      maskPadding: c.maskPadding,
    };
    this.embedding = this.registerModule(
      "embedding",
      new TokenAndPositionEmbedding(c.maxlen, c.vocabSize, c.embedDim, { generator }),
    );
    this.transformerBlock = this.registerModule(
      "transformer_block",
      new TextTransformerBlock(c.embedDim, c.numHeads, c.ffDim, { dropout: c.dropout, generator }),
    );
    // Stateless, so it adds no keys; registered so that train()/eval() reach it.
    this.drop = this.registerModule("dropout", new Dropout(c.dropout, { generator }));
    this.dense1 = this.registerModule("dense1", new Linear(c.embedDim, c.hiddenDim, { generator }));
    this.dense2 = this.registerModule("dense2", new Linear(c.hiddenDim, c.numClasses, { generator }));
  }

  override forward(ids: Tensor): Tensor;
  override forward(ids: Tensor, opts: { returnAttention: true }): TextClassifierOutput;
  override forward(ids: Tensor, opts: { returnAttention: readonly number[] }): TextClassifierOutput<Tensor[]>;
  override forward(
    ids: Tensor,
    opts: { returnAttention?: boolean | readonly number[] },
  ): Tensor | TextClassifierOutput | TextClassifierOutput<Tensor[]>;
  override forward(
    ids: Tensor,
    opts: { returnAttention?: boolean | readonly number[] } = {},
  ): Tensor | TextClassifierOutput | TextClassifierOutput<Tensor[]> {
    if (ids.rank !== 2 || ids.dtype !== "int32")
      throw new TypeError(
        `TextTransformerClassifier: ids must be int32 [B, L], got ${ids.dtype} [${ids.shape.join(",")}]`,
      );
    const want = opts.returnAttention;
    const layers = attentionLayers("TextTransformerClassifier", want, 1); // one block
    const r = tidy(() => {
      const x = this.embedding.forward(ids); // [B,L,D]
      let keyPaddingMask: Tensor | null = null;
      let keep: Tensor | null = null;
      if (this.config.maskPadding) {
        const isPad = ids.eq(0); // [B,L]
        // A row of padding only would mask every key (NaN); such rows attend to all keys instead.
        const allPad = isPad.sum(1).eq(ids.shape[1]!); // [B]
        keyPaddingMask = isPad.logicalAnd(allPad.logicalNot().unsqueeze(1));
        keep = isPad.logicalNot().cast("float32").unsqueeze(2); // [B,L,1]
      }
      const { output: h, attention } = this.transformerBlock.forward(x, {
        keyPaddingMask,
        returnAttention: layers.length > 0,
      });
      // [B,L,D] → [B,D]
      const pooled = keep ? h.mul(keep).sum(1).div(keep.sum(1).clamp(1)) : h.mean(1);
      const hidden = this.drop.forward(this.dense1.forward(this.drop.forward(pooled)).relu()); // [B,20]
      const logits = this.dense2.forward(hidden); // [B,K]
      if (want === true) return { logits, attention: attention! };
      return { logits, attention: layers.map(() => attention!) };
    });
    return want ? r : r.logits;
  }
}
