/**
 * MiniViT, the seed's small vision transformer (reference_models.py `MiniViTBackbone`/`MiniViT`),
 * with PyTorch's state-dict keys: `patch_embed.proj`, `cls_token`, `pos_embed`,
 * `transformer.layers.N.{self_attn,linear1,linear2,norm1,norm2}`, `mlp_head.0` (LayerNorm), `mlp_head.1`.
 *
 *   x [B,C,H,W] → patch_embed.proj (Conv2d k=s=p) [B,D,h,w] → flatten(2)ᵀ [B,N,D]   (N = h·w)
 *     → [cls; patches] [B,N+1,D] + pos_embed [1,N+1,D]
 *     → transformer (nn.TransformerEncoder: post-norm, ReLU, dimFeedforward mlpDim) [B,N+1,D]
 *     → token 0 [B,D] → mlp_head (LayerNorm, Linear) → logits [B,K]
 */
import { cat, empty, type Generator, type Tensor, tidy } from "@tessera/core";
import {
  Conv2d,
  init,
  LayerNorm,
  Linear,
  Module,
  Sequential,
  TransformerEncoder,
  TransformerEncoderLayer,
} from "@tessera/nn";
import { attentionLayers } from "./attention-tools.js";

export interface MiniViTOptions {
  /** A named configuration (see `MINI_VIT_PRESETS`); the other options override it. */
  preset?: MiniViTPreset;
  /** Image size, square or [H, W] (default 32). Like the seed's Conv2d, a remainder smaller than a patch is dropped. */
  imgSize?: number | readonly [number, number];
  /** Patch side p (default 8): the Conv2d kernel and stride. */
  patchSize?: number;
  /** Input channels C (default 3). */
  inChannels?: number;
  /** Token width D (default 64). */
  dim?: number;
  /** Attention heads (default 4); must divide `dim`. */
  heads?: number;
  /** Encoder layers (default 2). */
  depth?: number;
  /** Feed-forward hidden size (default 2048, PyTorch's `dim_feedforward` default that the seed keeps). */
  mlpDim?: number;
  /** Dropout in the encoder layers (default 0, as the seed's `dropout=0.0`). */
  dropout?: number;
  /**
   * Pre-norm encoder layers (PyTorch's `norm_first=True`; default false, the seed's post-norm). Same
   * state-dict keys; pre-norm trains faster from scratch on small data.
   */
  normFirst?: boolean;
  /** Classes K of the head (default 10). */
  numClasses?: number;
  /** Stream for the initial weights and dropout masks (default: core's global generator). */
  generator?: Generator;
}

/** The resolved configuration of a MiniViT (every option filled in). */
export interface MiniViTConfig {
  imgSize: [number, number];
  patchSize: number;
  inChannels: number;
  dim: number;
  heads: number;
  depth: number;
  mlpDim: number;
  dropout: number;
  normFirst: boolean;
  numClasses: number;
}

/**
 * Named MiniViT configurations: `seed` is reference_models.py's defaults (the `minivit` golden
 * case); `fashion-mnist` is the benchmark model of issue 6 (28×28×1, patch 4, D 128, 6 layers,
 * 4 heads, MLP 512).
 */
export const MINI_VIT_PRESETS = {
  seed: {
    imgSize: 32,
    patchSize: 8,
    inChannels: 3,
    dim: 64,
    heads: 4,
    depth: 2,
    mlpDim: 2048,
    numClasses: 10,
  },
  "fashion-mnist": {
    imgSize: 28,
    patchSize: 4,
    inChannels: 1,
    dim: 128,
    heads: 4,
    depth: 6,
    mlpDim: 512,
    numClasses: 10,
  },
} as const satisfies Record<string, MiniViTOptions>;

export type MiniViTPreset = keyof typeof MINI_VIT_PRESETS;

/** Fills in a MiniViT options object (preset first, then the explicit options, then the defaults) and checks it. */
export function resolveMiniViTConfig(opts: MiniViTOptions = {}, model = "MiniViT"): MiniViTConfig {
  let base: MiniViTOptions = {};
  if (opts.preset !== undefined) {
    if (!Object.hasOwn(MINI_VIT_PRESETS, opts.preset))
      throw new RangeError(
        `${model}: unknown preset ${JSON.stringify(opts.preset)} (known: ${Object.keys(MINI_VIT_PRESETS).join(", ")})`,
      );
    base = MINI_VIT_PRESETS[opts.preset];
  }
  const o = { ...base, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
  const img = o.imgSize ?? 32;
  const c: MiniViTConfig = {
    imgSize: typeof img === "number" ? [img, img] : [img[0], img[1]],
    patchSize: o.patchSize ?? 8,
    inChannels: o.inChannels ?? 3,
    dim: o.dim ?? 64,
    heads: o.heads ?? 4,
    depth: o.depth ?? 2,
    mlpDim: o.mlpDim ?? 2048,
    dropout: o.dropout ?? 0,
    normFirst: o.normFirst ?? false,
    numClasses: o.numClasses ?? 10,
  };
  for (const k of ["patchSize", "inChannels", "dim", "heads", "mlpDim", "numClasses"] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0)
      throw new RangeError(`${model}: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (!Number.isInteger(c.depth) || c.depth < 0)
    throw new RangeError(`${model}: depth must be a non-negative integer, got ${c.depth}`);
  if (c.imgSize.some((s) => !Number.isInteger(s) || s < c.patchSize))
    throw new RangeError(
      `${model}: imgSize [${c.imgSize.join(",")}] must be integers of at least patchSize ${c.patchSize}`,
    );
  if (c.dim % c.heads !== 0)
    throw new RangeError(`${model}: dim ${c.dim} must be divisible by heads ${c.heads}`);
  if (!(c.dropout >= 0 && c.dropout < 1))
    throw new RangeError(`${model}: dropout must be in [0, 1), got ${c.dropout}`);
  return c;
}

/**
 * Cuts images into non-overlapping p×p patches with one Conv2d (key `proj`) and returns one token
 * per patch, row-major over the patch grid: [B,C,H,W] → [B, (H/p)·(W/p), D].
 *
 * @example
 * const embed = new PatchEmbedding(3, 64, 8);
 * embed.forward(randn([2, 3, 32, 32])); // [2, 16, 64]
 */
export class PatchEmbedding extends Module {
  readonly proj: Conv2d;

  constructor(inChannels: number, dim: number, patchSize: number, opts: { generator?: Generator } = {}) {
    super();
    this.proj = this.registerModule(
      "proj",
      new Conv2d(inChannels, dim, patchSize, { stride: patchSize, generator: opts.generator }),
    );
  }

  override forward(x: Tensor): Tensor {
    return tidy(() => this.proj.forward(x).flatten(2).transpose(1, 2)); // [B,D,h,w] → [B,N,D]
  }
}

export interface MiniViTForwardOptions {
  /** Also return the post-softmax attention weights [B, heads, N+1, N+1]: `true` for every layer, or the layer indices wanted, in the order wanted (negative counts from the end; see `attentionLayers`). */
  returnAttention?: boolean | readonly number[];
}

export interface MiniViTFeatures {
  /** Encoder output [B, N+1, D] (token 0 is the class token). */
  tokens: Tensor;
  /** One map [B, heads, N+1, N+1] per requested layer, in the order asked (empty when none was asked for). */
  attention: Tensor[];
}

/**
 * The MiniViT backbone without a head (the seed's `MiniViTBackbone`): patch embedding, class
 * token, learned positions and a PyTorch `nn.TransformerEncoder`. `MiniViT` adds the class head,
 * `MiniViTDepth` and `MiniViTSegmentation` (dense-heads.ts) add dense heads.
 *
 * @example
 * const backbone = new MiniViTBackbone({ imgSize: 16, patchSize: 4, dim: 32, heads: 2, depth: 1, mlpDim: 64 });
 * backbone.features(randn([2, 3, 16, 16])); // [2, 17, 32]
 */
export class MiniViTBackbone extends Module {
  readonly config: Readonly<MiniViTConfig>;
  /** Patch grid [h, w] = ⌊[H, W] / p⌋. */
  readonly grid: [number, number];
  readonly patchEmbed: PatchEmbedding;
  readonly clsToken: Tensor;
  readonly posEmbed: Tensor;
  readonly transformer: TransformerEncoder;

  constructor(opts: MiniViTOptions = {}, model = "MiniViTBackbone") {
    super();
    const c = resolveMiniViTConfig(opts, model);
    this.config = c;
    const g = opts.generator;
    this.grid = [Math.floor(c.imgSize[0] / c.patchSize), Math.floor(c.imgSize[1] / c.patchSize)];
    const n = this.grid[0] * this.grid[1];
    // torch.randn(...) * 0.02, as the seed initialises both.
    this.clsToken = this.registerParameter(
      "cls_token",
      init.normal(empty([1, 1, c.dim]), 0, 0.02, { generator: g }),
    );
    this.posEmbed = this.registerParameter(
      "pos_embed",
      init.normal(empty([1, n + 1, c.dim]), 0, 0.02, { generator: g }),
    );
    this.patchEmbed = this.registerModule(
      "patch_embed",
      new PatchEmbedding(c.inChannels, c.dim, c.patchSize, { generator: g }),
    );
    const layer = new TransformerEncoderLayer(c.dim, c.heads, {
      dimFeedforward: c.mlpDim,
      dropout: c.dropout,
      batchFirst: true,
      normFirst: c.normFirst,
      generator: g,
    });
    this.transformer = this.registerModule("transformer", new TransformerEncoder(layer, c.depth));
    layer.dispose();
  }

  /** Number of patch tokens N = h·w (the sequence is N+1 long with the class token). */
  get numPatches(): number {
    return this.grid[0] * this.grid[1];
  }

  /** Encoder tokens [B, N+1, D] for images [B, C, H, W]. */
  features(x: Tensor): Tensor {
    return this.forwardFeatures(x).tokens;
  }

  /** Encoder tokens [B, N+1, D] and, when asked for, the attention weights of the chosen layers. */
  forwardFeatures(x: Tensor, opts: MiniViTForwardOptions = {}): MiniViTFeatures {
    const c = this.config;
    if (
      x.rank !== 4 ||
      x.shape[1] !== c.inChannels ||
      x.shape[2] !== c.imgSize[0] ||
      x.shape[3] !== c.imgSize[1]
    ) {
      throw new RangeError(
        `${this.typeName}: expected images [B,${c.inChannels},${c.imgSize.join(",")}], got [${x.shape.join(",")}]`,
      );
    }
    const wanted = attentionLayers(this.typeName, opts.returnAttention, c.depth);
    return tidy(() => {
      const patches = this.patchEmbed.forward(x); // [B,N,D]
      const cls = this.clsToken.expand(x.shape[0]!, -1, -1); // [B,1,D], one shared parameter
      const t = cat([cls, patches], 1).add(this.posEmbed); // [B,N+1,D]
      if (wanted.length === 0) return { tokens: this.transformer.forward(t), attention: [] };
      // forwardWithAttention gives one entry per layer (null where not listed), in layer order.
      const r = this.transformer.forwardWithAttention(t, { layers: wanted });
      return { tokens: r.output, attention: wanted.map((i) => r.attention[i]!) };
    });
  }
}

export interface MiniViTOutput {
  logits: Tensor;
  /** [B, heads, N+1, N+1] per requested layer. */
  attention: Tensor[];
}

/**
 * MiniViT image classifier (the seed's `MiniViT`): the backbone, then `mlp_head` = LayerNorm and
 * Linear on the class token. State-dict keys are PyTorch's, so the seed's checkpoints load with
 * `loadStateDict(sd, { strict: true })`.
 *
 * @example
 * const model = new MiniViT({ preset: "fashion-mnist" });
 * const logits = model.forward(randn([8, 1, 28, 28])); // [8, 10]
 * const { attention } = model.forward(randn([8, 1, 28, 28]), { returnAttention: true }); // 6 × [8, 4, 50, 50]
 */
export class MiniViT extends MiniViTBackbone {
  readonly mlpHead: Sequential;

  constructor(opts: MiniViTOptions = {}) {
    super(opts, "MiniViT");
    const c = this.config;
    this.mlpHead = this.registerModule(
      "mlp_head",
      new Sequential(new LayerNorm(c.dim), new Linear(c.dim, c.numClasses, { generator: opts.generator })),
    );
  }

  /** Logits [B, K] for images [B, C, H, W]. */
  override forward(x: Tensor): Tensor;
  /** With `returnAttention`: logits and the chosen layers' attention maps. */
  override forward(
    x: Tensor,
    opts: MiniViTForwardOptions & { returnAttention: true | readonly number[] },
  ): MiniViTOutput;
  override forward(x: Tensor, opts?: MiniViTForwardOptions): Tensor | MiniViTOutput;
  override forward(x: Tensor, opts: MiniViTForwardOptions = {}): Tensor | MiniViTOutput {
    return tidy(() => {
      const f = this.forwardFeatures(x, opts);
      const logits = this.forwardHead(f.tokens);
      return opts.returnAttention ? { logits, attention: f.attention } : logits;
    });
  }

  /** Class token of tokens [B, N+1, D] → LayerNorm → Linear → logits [B, K]. */
  forwardHead(tokens: Tensor): Tensor {
    return tidy(() => this.mlpHead.forward(tokens.select(1, 0))); // [B,D] → [B,K]
  }

  override extraRepr(): string {
    const c = this.config;
    return `img_size=(${c.imgSize.join(", ")}), patch_size=${c.patchSize}, dim=${c.dim}, depth=${c.depth}, heads=${c.heads}, num_classes=${c.numClasses}`;
  }
}
