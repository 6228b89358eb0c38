/**
 * TransformerCNN: the seeds' generic encoder stack (positions → MHSA → Add & Norm → FFN → Add & Norm,
 * ×N) with its enhancements as options — a conv stem (hybrid), patching, a recurrent layer after
 * each block, local-window / strided sparse attention, dropout — and a classification or
 * regression head.
 *
 *   image [B,C,H,W] → stem (Conv3×3 → BN → ReLU → MaxPool2)×S [B,C',H/2^S,W/2^S]
 *                   → embed Conv2d(k = s = patch) [B,D,h,w] → tokens [B,N=h·w,D]
 *   or sequence [B,T,F] → embed Linear [B,T,D]
 *   → (cls token) [B,N+1,D] → + positions (sinusoidal or learned) → dropout
 *   → ×depth: post-norm TransformerEncoderLayer (bool mask [N,N] for sparse attention)
 *             (→ LSTM/GRU over the tokens, added residually or replacing them)  [B,N,D]
 *   → pool (mean over tokens, or the cls token) [B,D] → head Linear → logits [B,K] / values [B,O]
 */
import { noGrad } from "@tessera/autograd";
import {
  arange,
  cat,
  crossEntropy,
  dropout,
  type Generator,
  mseLoss,
  type Tensor,
  tidy,
  zeros,
} from "@tessera/core";
import {
  BatchNorm2d,
  Conv2d,
  GRU,
  init,
  Linear,
  LSTM,
  MaxPool2d,
  Module,
  ModuleList,
  ReLU,
  Sequential,
  sinusoidalEncoding1d,
  TransformerEncoderLayer,
} from "@tessera/nn";
import { attentionLayers } from "./attention-tools.js";

export interface TransformerCNNOptions {
  /** 'image' ([B,C,H,W], conv tokenizer) or 'sequence' ([B,T,F], Linear tokenizer). Default 'image'. */
  input?: "image" | "sequence";
  /** Image channels (default 3). */
  inChannels?: number;
  /** Image size, `n` or `[h, w]` (default 32). */
  imageSize?: number | readonly [number, number];
  /** Conv stem widths, one Conv3×3+BN+ReLU(+MaxPool2) stage each; `[]` = no stem (default []). */
  stemChannels?: readonly number[];
  /** 2×2 max pooling at the end of each stem stage (default true). */
  stemPool?: boolean;
  /** Patch size of the `embed` Conv2d (kernel = stride); 1 makes every stem position a token (default 4). */
  patchSize?: number;
  /** Sequence input: features per step F (required with input 'sequence'). */
  inFeatures?: number;
  /** Sequence input: the longest sequence (positions; default 512). */
  maxLen?: number;
  /** Model width D (default 64). */
  dim?: number;
  depth?: number;
  numHeads?: number;
  /** FFN hidden size (default 4·dim). */
  dimFeedforward?: number;
  /** Dropout after the positions and inside every layer (training only; default 0.1). */
  dropout?: number;
  /** 'sinusoidal' (fixed), 'learnable' (`pos_embed`, truncated normal 0.02) or 'none'. Default 'sinusoidal'. */
  positional?: "sinusoidal" | "learnable" | "none";
  /** A batch-first LSTM or GRU (hidden D) after every block (default 'none'). */
  recurrent?: "none" | "lstm" | "gru";
  /** 'residual': x + rnn(x) (default); 'replace': rnn(x). */
  recurrentMode?: "residual" | "replace";
  /** 'full'; 'local': token i attends to |i−j| ≤ window; 'strided': local, or (i−j) mod stride = 0. */
  attention?: "full" | "local" | "strided";
  window?: number;
  stride?: number;
  /** 'mean' over the tokens (default) or a `cls_token` (which attends and is attended globally). */
  pool?: "mean" | "cls";
  /** 'classification' (logits, cross-entropy) or 'regression' (real values, MSE). */
  task?: "classification" | "regression";
  numClasses?: number;
  /** Regression outputs (default 1). */
  numOutputs?: number;
  generator?: Generator;
}

type Config = Required<Omit<TransformerCNNOptions, "generator" | "inFeatures" | "imageSize">> & {
  inFeatures: number;
  imageSize: [number, number];
};

const DEFAULTS = {
  input: "image",
  inChannels: 3,
  stemChannels: [],
  stemPool: true,
  patchSize: 4,
  maxLen: 512,
  dim: 64,
  depth: 2,
  numHeads: 4,
  dropout: 0.1,
  positional: "sinusoidal",
  recurrent: "none",
  recurrentMode: "residual",
  attention: "full",
  window: 2,
  stride: 4,
  pool: "mean",
  task: "classification",
  numClasses: 10,
  numOutputs: 1,
} as const;

const HYBRID_SMALL = {
  stemChannels: [32, 64],
  patchSize: 1,
  dim: 128,
  depth: 4,
  numHeads: 4,
  dimFeedforward: 256,
} as const satisfies TransformerCNNOptions;

const POSITIVE_INTEGERS = [
  "dim",
  "depth",
  "numHeads",
  "dimFeedforward",
  "patchSize",
  "numClasses",
  "numOutputs",
] as const;

/** Named configurations for 32×32 RGB images (and `sequence` for [B,T,F]); spread and override. */
export const TRANSFORMER_CNN_PRESETS = {
  /** Conv stem 16→32 (8×8 = 64 tokens), D 64, 2 layers. */
  hybridTiny: { stemChannels: [16, 32], patchSize: 1, dim: 64, depth: 2, numHeads: 4 },
  /** Conv stem 32→64 (64 tokens), D 128, 4 layers. */
  hybridSmall: HYBRID_SMALL,
  /** Patches 4×4 (64 tokens), no stem, D 128, 4 layers. */
  patchSmall: { patchSize: 4, dim: 128, depth: 4, numHeads: 4, dimFeedforward: 256 },
  /** hybridSmall with an LSTM after every block. */
  recurrentSmall: { ...HYBRID_SMALL, recurrent: "lstm" },
  /** hybridSmall with local (±2) + strided (every 8th) sparse attention. */
  sparseSmall: { ...HYBRID_SMALL, attention: "strided", window: 2, stride: 8 },
  /** Sequences [B,T,F] (set `inFeatures`), D 64, 2 layers, learned positions, regression. */
  sequence: {
    input: "sequence",
    dim: 64,
    depth: 2,
    numHeads: 4,
    positional: "learnable",
    task: "regression",
  },
} as const satisfies Record<string, TransformerCNNOptions>;

/**
 * The bool attention mask [n, n] for `kind` (true = NOT allowed, MultiheadAttention's convention):
 * 'local' allows |i−j| ≤ window, 'strided' also (i−j) mod stride = 0; the first `prefix` tokens
 * (cls) attend and are attended everywhere. Null for 'full'.
 *
 * @example
 * sparseAttentionMask(6, { kind: "local", window: 1 }); // bool [6,6], true off the tridiagonal
 */
export function sparseAttentionMask(
  n: number,
  opts: {
    kind: "full" | "local" | "strided";
    window?: number;
    stride?: number;
    prefix?: number;
    backend?: string;
  },
): Tensor | null {
  if (opts.kind === "full") return null;
  return tidy(() => {
    const i = arange(0, n, 1, { dtype: "float32", backend: opts.backend });
    const d = i.unsqueeze(1).sub(i.unsqueeze(0)).abs(); // [n,n] |i−j|
    let allowed = d.le(opts.window ?? 2);
    if (opts.kind === "strided") {
      const s = opts.stride ?? 4;
      allowed = allowed.logicalOr(d.sub(d.div(s).floor().mul(s)).eq(0));
    }
    const prefix = i.lt(opts.prefix ?? 0); // [n]
    return allowed.logicalOr(prefix.unsqueeze(1)).logicalOr(prefix.unsqueeze(0)).logicalNot();
  });
}

/**
 * The seeds' TransformerCNN (see the flow above). Keys: `stem.N.*` (Conv2d / BatchNorm2d at
 * PyTorch Sequential indices), `embed.*`, `cls_token`, `pos_embed` (learnable positions only),
 * `blocks.N.*` (nn.TransformerEncoderLayer: `self_attn`, `linear1`, `linear2`, `norm1`, `norm2`),
 * `recurrent.N.*` (nn.LSTM / nn.GRU), `head.*`.
 *
 * @example
 * const model = new TransformerCNN({ ...TRANSFORMER_CNN_PRESETS.hybridTiny, numClasses: 10 });
 * const logits = model.forward(randn([8, 3, 32, 32])); // [8, 10]
 * const loss = model.loss(logits, randint(0, 10, [8], { dtype: "int32" }));
 *
 * const seq = new TransformerCNN({ ...TRANSFORMER_CNN_PRESETS.sequence, inFeatures: 6, attention: "local" });
 * seq.forward(randn([4, 50, 6])); // [4, 1] regression values
 */
export class TransformerCNN extends Module {
  readonly config: Readonly<Config>;
  readonly stem: Sequential | null;
  readonly embed: Conv2d | Linear;
  readonly clsToken: Tensor | null;
  /** Learned `pos_embed` [1, P, D] or the fixed sinusoidal table (non-persistent buffer `pe`), P = positions (+1 cls). */
  readonly positions: Tensor | null;
  readonly blocks: ModuleList<TransformerEncoderLayer>;
  readonly recurrent: ModuleList<LSTM | GRU> | null;
  readonly head: Linear;
  /** Tokens per input (without cls): h·w for images, maxLen for sequences. */
  readonly numTokens: number;
  private readonly posDropout: number;
  private readonly generator: Generator | undefined;

  constructor(opts: TransformerCNNOptions = {}) {
    super();
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    const size = opts.imageSize ?? 32;
    const c: Config = {
      ...DEFAULTS,
      dimFeedforward: 4 * (opts.dim ?? DEFAULTS.dim),
      ...given,
      inFeatures: opts.inFeatures ?? 0,
      imageSize: typeof size === "number" ? [size, size] : [size[0], size[1]],
    } as Config;
    const g = (this.generator = opts.generator);
    const fail = (msg: string) => new RangeError(`TransformerCNN: ${msg}`);
    for (const k of POSITIVE_INTEGERS)
      if (!Number.isInteger(c[k]) || c[k] <= 0) throw fail(`${k} must be a positive integer, got ${c[k]}`);
    if (c.dim % c.numHeads !== 0) throw fail(`dim ${c.dim} must be divisible by numHeads ${c.numHeads}`);
    if (c.attention !== "full" && !(Number.isInteger(c.window) && c.window >= 0))
      throw fail(`window must be a non-negative integer, got ${c.window}`);
    if (c.attention === "strided" && !(Number.isInteger(c.stride) && c.stride > 0))
      throw fail(`stride must be a positive integer, got ${c.stride}`);
    this.config = c;

    if (c.input === "sequence") {
      if (!Number.isInteger(c.inFeatures) || c.inFeatures <= 0)
        throw fail(`input 'sequence' needs inFeatures (a positive integer), got ${opts.inFeatures}`);
      this.stem = null;
      this.embed = this.registerModule("embed", new Linear(c.inFeatures, c.dim, { generator: g }));
      this.numTokens = c.maxLen;
    } else {
      const layers: Module[] = [];
      let ch = c.inChannels;
      let [h, w] = c.imageSize;
      for (const out of c.stemChannels) {
        layers.push(new Conv2d(ch, out, 3, { padding: 1, generator: g }), new BatchNorm2d(out), new ReLU());
        if (c.stemPool) {
          layers.push(new MaxPool2d(2));
          [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
        }
        ch = out;
      }
      this.stem = layers.length ? this.registerModule("stem", new Sequential(...layers)) : null;
      this.embed = this.registerModule(
        "embed",
        new Conv2d(ch, c.dim, c.patchSize, { stride: c.patchSize, generator: g }),
      );
      this.numTokens = Math.floor(h / c.patchSize) * Math.floor(w / c.patchSize);
      if (this.numTokens === 0)
        throw fail(
          `an image of ${c.imageSize.join("×")} gives a ${h}×${w} map after the stem, smaller than patchSize ${c.patchSize}`,
        );
    }
    const prefix = c.pool === "cls" ? 1 : 0;
    this.clsToken = prefix ? this.registerParameter("cls_token", zeros([1, 1, c.dim])) : null;
    if (this.clsToken) init.truncNormal(this.clsToken, 0, 0.02, -2, 2, { generator: g });
    const p = this.numTokens + prefix;
    if (c.positional === "learnable") {
      this.positions = this.registerParameter("pos_embed", zeros([1, p, c.dim]));
      init.truncNormal(this.positions, 0, 0.02, -2, 2, { generator: g });
    } else if (c.positional === "sinusoidal") {
      const pe = tidy(() => sinusoidalEncoding1d(p, c.dim).reshape(1, p, c.dim));
      this.positions = this.registerBuffer("pe", pe, { persistent: false });
    } else this.positions = null;
    this.posDropout = c.dropout;

    const layerOpts = {
      dimFeedforward: c.dimFeedforward,
      dropout: c.dropout,
      batchFirst: true,
      generator: g,
    };
    this.blocks = this.registerModule(
      "blocks",
      new ModuleList(
        Array.from({ length: c.depth }, () => new TransformerEncoderLayer(c.dim, c.numHeads, layerOpts)),
      ),
    );
    this.recurrent =
      c.recurrent === "none"
        ? null
        : this.registerModule(
            "recurrent",
            new ModuleList<LSTM | GRU>(
              Array.from({ length: c.depth }, () =>
                c.recurrent === "lstm"
                  ? new LSTM(c.dim, c.dim, { batchFirst: true, generator: g })
                  : new GRU(c.dim, c.dim, { batchFirst: true, generator: g }),
              ),
            ),
          );
    const out = c.task === "regression" ? c.numOutputs : c.numClasses;
    this.head = this.registerModule("head", new Linear(c.dim, out, { generator: g }));
  }

  /** Tokens before the encoder: [B,C,H,W] or [B,T,F] → [B,N(+1),D] with positions added. */
  tokenize(x: Tensor): Tensor {
    const c = this.config;
    const shape = `[${x.shape.join(",")}]`;
    return tidy(() => {
      let t: Tensor;
      if (c.input === "sequence") {
        if (x.rank !== 3 || x.shape[2] !== c.inFeatures || x.shape[1]! > c.maxLen)
          throw new RangeError(
            `TransformerCNN: expected a sequence [B, T ≤ ${c.maxLen}, ${c.inFeatures}], got ${shape}`,
          );
        t = this.embed.forward(x); // [B,T,D]
      } else {
        const [h, w] = c.imageSize;
        if (x.rank !== 4 || x.shape[1] !== c.inChannels || x.shape[2] !== h || x.shape[3] !== w)
          throw new RangeError(
            `TransformerCNN: expected images [B, ${c.inChannels}, ${h}, ${w}], got ${shape}`,
          );
        const f = this.stem ? this.stem.forward(x) : x; // [B,C',h',w']
        t = this.embed.forward(f).flatten(2).transpose(1, 2); // [B,D,h,w] → [B,N,D]
      }
      if (this.clsToken) t = cat([this.clsToken.expand(t.shape[0]!, 1, c.dim), t], 1); // [B,N+1,D]
      if (this.positions) t = t.add(this.positions.slice(1, 0, t.shape[1]!));
      return this.posDropout > 0 && this.training
        ? dropout(t, this.posDropout, true, { generator: this.generator })
        : t;
    });
  }

  /**
   * The encoder's output tokens [B, N(+1), D]; with `returnAttention` (`true` or layer indices,
   * see `attentionLayers`), also the chosen layers' weights [B,H,N,N], in the order asked.
   */
  forwardFeatures(x: Tensor): Tensor;
  forwardFeatures(
    x: Tensor,
    opts: { returnAttention: true | readonly number[] },
  ): { features: Tensor; attention: Tensor[] };
  forwardFeatures(
    x: Tensor,
    opts?: { returnAttention?: boolean | readonly number[] },
  ): Tensor | { features: Tensor; attention: Tensor[] };
  forwardFeatures(
    x: Tensor,
    opts: { returnAttention?: boolean | readonly number[] } = {},
  ): Tensor | { features: Tensor; attention: Tensor[] } {
    const layers = attentionLayers("TransformerCNN", opts.returnAttention, this.config.depth);
    const want = new Map(layers.map((layer, slot) => [layer, slot])); // layer → slot in the returned list
    const r = tidy(() => {
      let t = this.tokenize(x);
      const srcMask = sparseAttentionMask(t.shape[1]!, {
        kind: this.config.attention,
        window: this.config.window,
        stride: this.config.stride,
        prefix: this.clsToken ? 1 : 0,
        backend: t.backendName,
      });
      const attention: Tensor[] = new Array(want.size);
      let i = 0;
      for (const block of this.blocks) {
        const slot = want.get(i);
        if (slot !== undefined) {
          const r = block.forwardWithAttention(t, { srcMask }); // [B,N,D], [B,H,N,N]
          attention[slot] = r.attention;
          t = r.output;
        } else t = block.forward(t, { srcMask }); // [B,N,D]
        const rnn = this.recurrent?.at(i);
        i++;
        if (rnn) {
          const y = rnn.forward(t).output; // [B,N,D]
          t = this.config.recurrentMode === "residual" ? t.add(y) : y;
        }
      }
      return { features: t, attention };
    });
    return opts.returnAttention ? r : r.features;
  }

  /** Pooling and head: [B,N(+1),D] → [B,D] → logits [B,K] or values [B,O]. */
  forwardHead(features: Tensor): Tensor {
    return tidy(() => {
      const pooled = this.clsToken ? features.select(1, 0) : features.mean(1); // [B,D]
      return this.head.forward(pooled);
    });
  }

  override forward(x: Tensor): Tensor {
    return tidy(() => this.forwardHead(this.forwardFeatures(x)));
  }

  /** Attention weights [B,H,N,N] of every layer, or of `layers` in their order (no gradients). */
  getAttentionMaps(x: Tensor, layers: true | readonly number[] = true): Tensor[] {
    return noGrad(() => this.forwardFeatures(x, { returnAttention: layers }).attention);
  }

  /** Cross-entropy against int32 classes [B] (classification) or MSE against targets [B,O] (regression). */
  loss(output: Tensor, target: Tensor): Tensor {
    return this.config.task === "regression" ? mseLoss(output, target) : crossEntropy(output, target);
  }
}
