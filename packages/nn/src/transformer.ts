/**
 * TransformerEncoderLayer and TransformerEncoder (PyTorch's, same keys, defaults and regular-path
 * semantics).
 *
 * post-norm: x → norm1(x + dropout1(self_attn(x))) → norm2(· + dropout2(linear2(dropout(act(linear1(·))))))
 * pre-norm:  x → x + dropout1(self_attn(norm1(x))) → · + dropout2(linear2(dropout(act(linear1(norm2(·))))))
 * shapes: [B, S, D] (batchFirst) or [S, B, D] in, the same out.
 */
import { add, type Generator, gelu, relu, type Tensor, tidy } from "@tessera/core";
import { MultiheadAttention } from "./attention.js";
import { ModuleList } from "./containers.js";
import { Dropout } from "./dropout.js";
import { Linear } from "./linear.js";
import { Module } from "./module.js";
import { LayerNorm } from "./normalization.js";

export type TransformerActivation = "relu" | "gelu" | ((x: Tensor) => Tensor);

export interface TransformerEncoderLayerOptions {
  /** Hidden size of the feed-forward block (default 2048, PyTorch's). */
  dimFeedforward?: number;
  /** Dropout after attention, inside and after the feed-forward block, and on the attention weights (default 0.1, PyTorch's). */
  dropout?: number;
  /** 'relu' (default), 'gelu' (exact erf form, as PyTorch's) or a function. */
  activation?: TransformerActivation;
  /** LayerNorm epsilon (default 1e-5). */
  layerNormEps?: number;
  /** Inputs are [B, S, D] (true) or [S, B, D] (false, the default). */
  batchFirst?: boolean;
  /** Pre-norm (true) or post-norm (false, the default). */
  normFirst?: boolean;
  /** Biases on the attention and feed-forward projections and the layer norms (default true). */
  bias?: boolean;
  /** The stream for initialisation and dropout masks (default: core's global generator). */
  generator?: Generator;
}

export interface TransformerEncoderLayerForwardOptions {
  /** The self-attention mask, as `MultiheadAttention`'s attnMask ([S, S] or [B·nhead, S, S]; bool true = NOT allowed). */
  srcMask?: Tensor | null;
  /** [B, S]; bool true = padding (that key is ignored). Padded positions still get (normal) outputs. */
  srcKeyPaddingMask?: Tensor | null;
  /** Causal self-attention. */
  isCausal?: boolean;
}

/**
 * One Transformer encoder block (PyTorch's `nn.TransformerEncoderLayer`): self-attention and a
 * feed-forward block, each with a residual connection and a LayerNorm, post-norm by default.
 * Keys: `self_attn.in_proj_weight`, `self_attn.in_proj_bias`, `self_attn.out_proj.*`,
 * `linear1.*`, `linear2.*`, `norm1.*`, `norm2.*`. It always computes PyTorch's regular path, so
 * padded positions get normal values (PyTorch's no-grad inference fast path returns 0 there).
 *
 * @example
 * const layer = new TransformerEncoderLayer(64, 4, { dimFeedforward: 128, dropout: 0, batchFirst: true });
 * const y = layer.forward(randn([2, 10, 64])); // [2, 10, 64]
 */
export class TransformerEncoderLayer extends Module {
  readonly selfAttn: MultiheadAttention;
  readonly linear1: Linear;
  readonly dropout: Dropout;
  readonly linear2: Linear;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly dropout1: Dropout;
  readonly dropout2: Dropout;
  readonly normFirst: boolean;
  readonly batchFirst: boolean;
  /** The options this layer was built with (TransformerEncoder builds its copies from them). */
  readonly options: Readonly<TransformerEncoderLayerOptions>;
  private readonly activation: (x: Tensor) => Tensor;

  constructor(
    readonly dModel: number,
    readonly nhead: number,
    opts: TransformerEncoderLayerOptions = {},
  ) {
    super();
    this.options = { ...opts };
    const ff = opts.dimFeedforward ?? 2048;
    if (!Number.isInteger(ff) || ff <= 0)
      throw new RangeError(`TransformerEncoderLayer: dimFeedforward must be a positive integer, got ${ff}`);
    const p = opts.dropout ?? 0.1;
    const bias = opts.bias ?? true;
    const eps = opts.layerNormEps ?? 1e-5;
    const generator = opts.generator;
    this.batchFirst = opts.batchFirst ?? false;
    this.normFirst = opts.normFirst ?? false;
    const act = opts.activation ?? "relu";
    if (act === "relu") this.activation = relu;
    else if (act === "gelu") this.activation = (x) => gelu(x);
    else if (typeof act === "function") this.activation = act;
    else
      throw new RangeError(
        `TransformerEncoderLayer: activation must be 'relu', 'gelu' or a function, got ${JSON.stringify(act)}`,
      );
    this.selfAttn = this.registerModule(
      "self_attn",
      new MultiheadAttention(dModel, nhead, { dropout: p, bias, batchFirst: this.batchFirst, generator }),
    );
    this.linear1 = this.registerModule("linear1", new Linear(dModel, ff, { bias, generator }));
    this.dropout = this.registerModule("dropout", new Dropout(p, { generator }));
    this.linear2 = this.registerModule("linear2", new Linear(ff, dModel, { bias, generator }));
    this.norm1 = this.registerModule("norm1", new LayerNorm(dModel, { eps, bias }));
    this.norm2 = this.registerModule("norm2", new LayerNorm(dModel, { eps, bias }));
    this.dropout1 = this.registerModule("dropout1", new Dropout(p, { generator }));
    this.dropout2 = this.registerModule("dropout2", new Dropout(p, { generator }));
  }

  override forward(src: Tensor, opts: TransformerEncoderLayerForwardOptions = {}): Tensor {
    return this.run(src, opts, false).output;
  }

  /**
   * `forward` that also returns the self-attention weights per head, [B, nhead, S, S] (PyTorch's
   * layer never returns them; this is the same computation with `needWeights` on).
   *
   * @example
   * const { output, attention } = layer.forwardWithAttention(randn([2, 10, 64]));
   */
  forwardWithAttention(
    src: Tensor,
    opts: TransformerEncoderLayerForwardOptions = {},
  ): { output: Tensor; attention: Tensor } {
    const r = this.run(src, opts, true);
    return { output: r.output, attention: r.attention! };
  }

  private run(
    src: Tensor,
    opts: TransformerEncoderLayerForwardOptions,
    needWeights: boolean,
  ): { output: Tensor; attention: Tensor | null } {
    return tidy(() => {
      let x = src;
      let a: { output: Tensor; attention: Tensor | null };
      if (this.normFirst) {
        a = this.saBlock(this.norm1.forward(x), opts, needWeights);
        x = add(x, a.output);
        x = add(x, this.ffBlock(this.norm2.forward(x)));
      } else {
        a = this.saBlock(x, opts, needWeights);
        x = this.norm1.forward(add(x, a.output));
        x = this.norm2.forward(add(x, this.ffBlock(x)));
      }
      return { output: x, attention: a.attention };
    });
  }

  private saBlock(
    x: Tensor,
    opts: TransformerEncoderLayerForwardOptions,
    needWeights: boolean,
  ): { output: Tensor; attention: Tensor | null } {
    const { output, weights } = this.selfAttn.forward(x, x, x, {
      attnMask: opts.srcMask,
      keyPaddingMask: opts.srcKeyPaddingMask,
      isCausal: opts.isCausal,
      needWeights,
      averageAttnWeights: false,
    });
    return { output: this.dropout1.forward(output), attention: weights };
  }

  private ffBlock(x: Tensor): Tensor {
    const h = this.dropout.forward(this.activation(this.linear1.forward(x)));
    return this.dropout2.forward(this.linear2.forward(h));
  }

  /**
   * A new layer of the same configuration holding a copy of this one's parameters, on the same
   * backend and in the same train/eval mode (PyTorch's `copy.deepcopy` of a layer).
   */
  clone(): TransformerEncoderLayer {
    const copy = new TransformerEncoderLayer(this.dModel, this.nhead, this.options);
    const backend = this.selfAttn.outProj.weight.backendName;
    copy.to(backend);
    copy.loadStateDict(this.stateDict());
    copy.train(this.training);
    return copy;
  }
}

export interface TransformerEncoderOptions {
  /** Applied after the last layer (PyTorch's `norm`, e.g. a LayerNorm); key prefix `norm.`. */
  norm?: Module | null;
}

export interface TransformerEncoderForwardOptions {
  /** The self-attention mask of every layer (see `TransformerEncoderLayerForwardOptions.srcMask`). */
  mask?: Tensor | null;
  /** [B, S]; bool true = padding. */
  srcKeyPaddingMask?: Tensor | null;
  /** Causal self-attention in every layer. */
  isCausal?: boolean;
}

/**
 * A stack of `numLayers` copies of `encoderLayer` (PyTorch's `nn.TransformerEncoder`): like
 * PyTorch's deep copy, every layer starts with the template's parameters, and the template itself
 * is not part of the encoder (dispose it when it is no longer needed). Keys `layers.N.*` and
 * `norm.*`.
 *
 * @example
 * const layer = new TransformerEncoderLayer(64, 4, { dropout: 0, batchFirst: true });
 * const encoder = new TransformerEncoder(layer, 2, { norm: new LayerNorm(64) });
 * layer.dispose();
 * const y = encoder.forward(randn([2, 10, 64])); // [2, 10, 64]
 */
export class TransformerEncoder extends Module {
  readonly layers: ModuleList<TransformerEncoderLayer>;
  readonly norm: Module | null;

  constructor(
    encoderLayer: TransformerEncoderLayer,
    readonly numLayers: number,
    opts: TransformerEncoderOptions = {},
  ) {
    super();
    if (!(encoderLayer instanceof TransformerEncoderLayer))
      throw new TypeError("TransformerEncoder: encoderLayer must be a TransformerEncoderLayer");
    if (!Number.isInteger(numLayers) || numLayers < 0)
      throw new RangeError(`TransformerEncoder: numLayers must be a non-negative integer, got ${numLayers}`);
    this.layers = this.registerModule(
      "layers",
      new ModuleList(Array.from({ length: numLayers }, () => encoderLayer.clone())),
    );
    this.norm = this.registerModule("norm", opts.norm ?? null);
  }

  override forward(src: Tensor, opts: TransformerEncoderForwardOptions = {}): Tensor {
    const layerOpts = {
      srcMask: opts.mask,
      srcKeyPaddingMask: opts.srcKeyPaddingMask,
      isCausal: opts.isCausal,
    };
    return tidy(() => {
      let x = src;
      for (const layer of this.layers) x = layer.forward(x, layerOpts);
      if (this.norm) x = this.norm.forward(x) as Tensor;
      return x;
    });
  }

  /**
   * `forward` that also returns each layer's self-attention weights per head, [B, nhead, S, S]
   * (null for the layers not listed in `layers`, which run as in `forward`).
   *
   * @example
   * const { output, attention } = encoder.forwardWithAttention(randn([2, 10, 64]), { layers: [0] });
   */
  forwardWithAttention(
    src: Tensor,
    opts: TransformerEncoderForwardOptions & { layers?: readonly number[] } = {},
  ): { output: Tensor; attention: (Tensor | null)[] } {
    const layerOpts = {
      srcMask: opts.mask,
      srcKeyPaddingMask: opts.srcKeyPaddingMask,
      isCausal: opts.isCausal,
    };
    const wanted = opts.layers ? new Set(opts.layers.map((i) => (i < 0 ? i + this.layers.length : i))) : null;
    return tidy(() => {
      let x = src;
      const attention: (Tensor | null)[] = [];
      let i = 0;
      for (const layer of this.layers) {
        if (!wanted || wanted.has(i)) {
          const r = layer.forwardWithAttention(x, layerOpts);
          x = r.output;
          attention.push(r.attention);
        } else {
          x = layer.forward(x, layerOpts);
          attention.push(null);
        }
        i++;
      }
      if (this.norm) x = this.norm.forward(x) as Tensor;
      return { output: x, attention };
    });
  }
}
