/**
 * VisionTransformer: the seed's ViT (unfold patches + Linear, post-norm ReLU layers around
 * nn.MultiheadAttention, `mlp_head`) and timm's (conv patches, pre-norm `blocks`, `norm`, `head`).
 *
 *   x [B,C,H,W] → patches [B,N,C·p·p] → patch embedding [B,N,D]      (N = ⌊H/p⌋·⌊W/p⌋)
 *     → cat(cls) [B,N+1,D] + position embedding [1,N+1,D]
 *     → depth × encoder layer [B,N+1,D]       (seed: post-norm, ReLU; timm: pre-norm, GELU)
 *     → (timm: norm) → token 0 [B,D] → head [B,K]   (seed: mlp_head = LayerNorm + Linear)
 *
 * Keys, seed layout: `patch_embedding`, `cls_token`, `positional_encoding`,
 * `transformer_layers.N.{multi_head_attn, norm1, ff.0, ff.3, norm2}`, `mlp_head.0/1`.
 * Keys, timm layout: `cls_token`, `pos_embed`, `patch_embed.proj`,
 * `blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}`, `norm`, `head`.
 */
import { noGrad } from "@tessera/autograd";
import {
  cat,
  type Generator,
  getBackend,
  linear,
  type Tensor,
  tidy,
  withBackend,
  zeros,
} from "@tessera/core";
import {
  Conv2d,
  Dropout,
  GELU,
  init,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  MultiheadAttention,
  ReLU,
  resamplePositionEmbedding,
  Sequential,
} from "@tessera/nn";
import { attentionLayers } from "./attention-tools.js";
import { Block } from "./blocks.js";

export interface VisionTransformerOptions {
  /** Training image size, a number or [H, W] (default 224). */
  imgSize?: number | readonly [number, number];
  patchSize?: number; // 16
  inChannels?: number; // 3
  /** Classes of the head (default 1000); 0 = no head, forwardHead returns the class token [B, D]. */
  numClasses?: number;
  embedDim?: number; // 768
  depth?: number; // 12
  numHeads?: number; // 12
  /** MLP hidden size (default mlpRatio · embedDim). */
  mlpDim?: number;
  mlpRatio?: number; // 4
  /** Dropout in attention and MLP (seed) / after the position embedding, in the MLP and projections (timm). Default 0. */
  dropout?: number;
  /** Parameter names and block form (default 'seed'). */
  layout?: "seed" | "timm";
  /** Seed layout: reproduce the seed's bug, a non-batch-first MultiheadAttention fed [B,N,D] (attention across the batch). */
  seedCompat?: boolean;
  /** Seed layout: pre-norm layers (`x + attn(norm1(x))`) instead of post-norm. */
  normFirst?: boolean;
  /** MLP activation (seed default 'relu', timm 'gelu'). */
  activation?: "relu" | "gelu";
  /** Seed layout: 'unfold' (the seed's unfold + Linear, default) or 'conv' (Conv2d k = s = p, same function). */
  patchEmbedding?: "unfold" | "conv";
  /** LayerNorm eps (seed 1e-5, timm 1e-6). */
  eps?: number;
  /** timm layout: bias on the fused qkv (default true). */
  qkvBias?: boolean;
  /** Resample the position embedding in every forward whose grid differs (else such inputs are an error). */
  dynamicImgSize?: boolean;
  /** timm layout: recompute each block's activations in backward. */
  gradientCheckpointing?: boolean;
  generator?: Generator;
}

export interface VitForwardOptions {
  /** true: every layer's attention weights; a list: those layers', in its order (negative counts from the end; see `attentionLayers`). */
  returnAttention?: boolean | readonly number[];
}

export interface VitOutput {
  logits: Tensor;
  /** Per requested layer, [B, heads, N+1, N+1] (seedCompat: [N+1, heads, B, B], the seed's cross-batch attention). */
  attention: Tensor[];
}

type Resolved = Required<Omit<VisionTransformerOptions, "imgSize" | "mlpRatio" | "generator">> & {
  imgSize: [number, number];
  generator: Generator | undefined;
};

function resolve(o: VisionTransformerOptions): Resolved {
  const layout = o.layout ?? "seed";
  const img = o.imgSize ?? 224;
  const embedDim = o.embedDim ?? 768;
  const r: Resolved = {
    imgSize: typeof img === "number" ? [img, img] : [img[0], img[1]],
    patchSize: o.patchSize ?? 16,
    inChannels: o.inChannels ?? 3,
    numClasses: o.numClasses ?? 1000,
    embedDim,
    depth: o.depth ?? 12,
    numHeads: o.numHeads ?? 12,
    mlpDim: o.mlpDim ?? Math.round(embedDim * (o.mlpRatio ?? 4)),
    dropout: o.dropout ?? 0,
    layout,
    seedCompat: o.seedCompat ?? false,
    normFirst: o.normFirst ?? false,
    activation: o.activation ?? (layout === "timm" ? "gelu" : "relu"),
    patchEmbedding: o.patchEmbedding ?? (layout === "timm" ? "conv" : "unfold"),
    eps: o.eps ?? (layout === "timm" ? 1e-6 : 1e-5),
    qkvBias: o.qkvBias ?? true,
    dynamicImgSize: o.dynamicImgSize ?? false,
    gradientCheckpointing: o.gradientCheckpointing ?? false,
    generator: o.generator,
  };
  const bad = (arg: string, v: unknown, need: string) =>
    new RangeError(`VisionTransformer: ${arg} ${JSON.stringify(v)} ${need}`);
  if (layout !== "seed" && layout !== "timm") throw bad("layout", layout, "must be 'seed' or 'timm'");
  for (const k of ["patchSize", "inChannels", "embedDim", "depth", "numHeads", "mlpDim"] as const) {
    if (!Number.isInteger(r[k]) || r[k] <= 0) throw bad(k, r[k], "must be a positive integer");
  }
  if (!Number.isInteger(r.numClasses) || r.numClasses < 0)
    throw bad("numClasses", r.numClasses, "must be a non-negative integer");
  if (r.embedDim % r.numHeads !== 0)
    throw bad("embedDim", r.embedDim, `must be divisible by numHeads ${r.numHeads}`);
  if (r.imgSize.some((s) => !Number.isInteger(s) || s < r.patchSize))
    throw bad("imgSize", r.imgSize, `must be integers of at least patchSize ${r.patchSize}`);
  if (layout === "timm" && (o.seedCompat || o.normFirst || o.patchEmbedding === "unfold"))
    throw new RangeError(
      "VisionTransformer: seedCompat, normFirst and patchEmbedding 'unfold' are seed-layout options",
    );
  if (r.seedCompat && r.normFirst)
    throw new RangeError("VisionTransformer: seedCompat reproduces the post-norm seed; drop normFirst");
  return r;
}

const gridOf = (img: readonly [number, number], p: number): [number, number] => [
  Math.floor(img[0] / p),
  Math.floor(img[1] / p),
];

/**
 * The parameter count of a VisionTransformer built with `opts`, without allocating it (ViT-L included).
 *
 * @example
 * countParameters({ ...VIT_PRESETS.vit_b16 }); // 86_567_656
 */
export function countParameters(opts: VisionTransformerOptions = {}): number {
  const c = resolve(opts);
  const [gh, gw] = gridOf(c.imgSize, c.patchSize);
  const D = c.embedDim;
  const M = c.mlpDim;
  const K = c.numClasses;
  const embed = c.inChannels * c.patchSize ** 2 * D + D + D + (1 + gh * gw) * D; // patches, cls, positions
  const layer =
    3 * D * D + (c.qkvBias || c.layout === "seed" ? 3 * D : 0) + D * D + D + 4 * D + 2 * D * M + M + D;
  return embed + c.depth * layer + 2 * D + (K > 0 ? D * K + K : 0);
}

/**
 * The seed's encoder layer: `norm1(x + mha(x,x,x))`, `norm2(x + ff(x))` with
 * `ff = Linear → ReLU → Dropout → Linear → Dropout` (keys `multi_head_attn`, `norm1`, `ff.0`, `ff.3`, `norm2`).
 *
 * @example
 * const layer = new SeedViTLayer(64, 4, 128);
 * layer.forward(randn([2, 17, 64])).output; // [2, 17, 64]
 */
export class SeedViTLayer extends Module {
  readonly multiHeadAttn: MultiheadAttention;
  readonly norm1: LayerNorm;
  readonly ff: Sequential;
  readonly norm2: LayerNorm;

  constructor(
    dim: number,
    numHeads: number,
    mlpDim: number,
    readonly opts: {
      dropout?: number;
      seedCompat?: boolean;
      normFirst?: boolean;
      activation?: "relu" | "gelu";
      eps?: number;
      generator?: Generator;
    } = {},
  ) {
    super();
    const { dropout = 0, generator, eps = 1e-5 } = opts;
    this.multiHeadAttn = this.registerModule(
      "multi_head_attn",
      new MultiheadAttention(dim, numHeads, { dropout, batchFirst: !opts.seedCompat, generator }),
    );
    this.norm1 = this.registerModule("norm1", new LayerNorm(dim, { eps }));
    this.ff = this.registerModule(
      "ff",
      new Sequential(
        new Linear(dim, mlpDim, { generator }),
        opts.activation === "gelu" ? new GELU() : new ReLU(),
        new Dropout(dropout, { generator }),
        new Linear(mlpDim, dim, { generator }),
        new Dropout(dropout, { generator }),
      ),
    );
    this.norm2 = this.registerModule("norm2", new LayerNorm(dim, { eps }));
  }

  override forward(x: Tensor, returnAttention = false): { output: Tensor; attention: Tensor | null } {
    return tidy(() => {
      // seedCompat: [B,N,D] read as [L=B, batch=N, D], so each position attends across the images.
      const attend = (t: Tensor) =>
        this.multiHeadAttn.forward(t, t, t, { needWeights: returnAttention, averageAttnWeights: false });
      const ff = (t: Tensor) => this.ff.forward(t) as Tensor;
      if (this.opts.normFirst) {
        const a = attend(this.norm1.forward(x));
        const y = x.add(a.output);
        return { output: y.add(ff(this.norm2.forward(y))), attention: a.weights };
      }
      const a = attend(x);
      const y = this.norm1.forward(x.add(a.output));
      return { output: this.norm2.forward(y.add(ff(y))), attention: a.weights };
    });
  }
}

/**
 * A Linear classifier whose class count can change (`reset`), for transfer learning; with 0 classes
 * it has no parameters and passes features through. Keys `weight` [K, D], `bias` [K].
 *
 * @example
 * const head = new ClassifierHead(64, 10);
 * head.reset(3); // weight [3, 64], freshly initialised
 */
export class ClassifierHead extends Module {
  constructor(
    readonly inFeatures: number,
    public numClasses: number,
    private readonly generator?: Generator,
  ) {
    super();
    this.registerParameter("weight", null);
    this.registerParameter("bias", null);
    this.reset(numClasses);
  }

  override get typeName(): string {
    return this.numClasses > 0 ? "Linear" : "Identity";
  }

  /** Replaces the weights with fresh ones for `numClasses` ≥ 1 classes (PyTorch's Linear initialisation). */
  reset(numClasses: number): void {
    if (!Number.isInteger(numClasses) || numClasses < 0 || (numClasses === 0 && this.getParameter("weight")))
      throw new RangeError(
        `ClassifierHead: numClasses must be a positive integer, got ${numClasses} (build the model with numClasses: 0 for a headless one)`,
      );
    this.numClasses = numClasses;
    if (numClasses === 0) return;
    // On the backend the head lives on now (the model may have been moved since construction).
    const backend = this.getParameter("weight")?.backendName ?? getBackend().name;
    const fresh = withBackend(
      backend,
      () => new Linear(this.inFeatures, numClasses, { generator: this.generator }),
    );
    this.replaceTensor("weight", fresh.weight); // disposes the old weight
    this.replaceTensor("bias", fresh.bias!);
  }

  override forward(x: Tensor): Tensor {
    const w = this.getParameter("weight");
    return w ? linear(x, w, this.getParameter("bias")) : x.reshape(x.shape);
  }

  override extraRepr(): string {
    return this.numClasses > 0
      ? `in_features=${this.inFeatures}, out_features=${this.numClasses}, bias=True`
      : "";
  }
}

/**
 * timm's `PatchEmbed`: Conv2d(C, D, k = s = p) as `proj`, then `[B,D,h,w] → [B,h·w,D]` row-major.
 *
 * @example
 * new PatchEmbed(3, 64, 8).forward(randn([2, 3, 32, 32])); // [2, 16, 64]
 */
export class PatchEmbed extends Module {
  readonly proj: Conv2d;
  constructor(inChannels: number, dim: number, patch: number, generator?: Generator) {
    super();
    this.proj = this.registerModule("proj", new Conv2d(inChannels, dim, patch, { stride: patch, generator }));
  }
  override forward(x: Tensor): Tensor {
    return tidy(() => this.proj.forward(x).flatten(2).transpose(1, 2)); // [B,D,h,w] → [B,h·w,D]
  }
}

/**
 * A Vision Transformer in the seed's form (default) or with timm's names and blocks (`layout: 'timm'`).
 *
 * @example
 * const vit = new VisionTransformer({ imgSize: 32, patchSize: 8, embedDim: 64, depth: 2, numHeads: 4, numClasses: 10 });
 * const logits = vit.forward(randn([2, 3, 32, 32]));                           // [2, 10]
 * const { attention } = vit.forward(randn([2, 3, 32, 32]), { returnAttention: true }); // 2 × [2, 4, 17, 17]
 * const b16 = vitPreset("vit_b16", { numClasses: 3 });                          // timm names, loads ViT-B/16 weights
 */
export class VisionTransformer extends Module {
  readonly config: Readonly<Resolved>;
  /** The patch grid [h, w] the position embedding is laid out for. */
  grid: [number, number];
  readonly clsToken: Tensor;
  readonly posEmbed: Tensor;
  readonly patchEmbed: Linear | Conv2d | PatchEmbed;
  readonly layers: ModuleList<SeedViTLayer> | ModuleList<Block>;
  /** timm layout: the final LayerNorm; seed layout: null (mlp_head.0 normalises the class token). */
  readonly norm: LayerNorm | null;
  /** The classifier (`head`, or `mlp_head.1` in seed layout). */
  readonly head: ClassifierHead;
  /** Everything after the encoder: `mlp_head` (seed) or `head` (timm); what freezeBackbone leaves trainable. */
  readonly headModule: Module;
  private readonly posDrop: Dropout;

  constructor(opts: VisionTransformerOptions = {}) {
    super();
    const c = resolve(opts);
    this.config = c;
    const { embedDim: D, patchSize: p, generator } = c;
    this.grid = gridOf(c.imgSize, p);
    const n = this.grid[0] * this.grid[1];
    const seed = c.layout === "seed";
    // stateDict lists a module's own parameters before its children, as PyTorch does, so the order
    // of registration below only matters among children.
    this.clsToken = this.registerParameter("cls_token", zeros([1, 1, D])); // seed: zeros, as in the seed
    this.posEmbed = this.registerParameter(seed ? "positional_encoding" : "pos_embed", zeros([1, n + 1, D]));
    if (!seed) {
      // timm's init: cls token normal(1e-6), positions trunc-normal(0.02)
      init.normal(this.clsToken, 0, 1e-6, { generator });
      init.truncNormal(this.posEmbed, 0, 0.02, -2, 2, { generator });
    }
    this.patchEmbed = seed
      ? this.registerModule(
          "patch_embedding",
          c.patchEmbedding === "conv"
            ? new Conv2d(c.inChannels, D, p, { stride: p, generator })
            : new Linear(c.inChannels * p * p, D, { generator }),
        )
      : this.registerModule("patch_embed", new PatchEmbed(c.inChannels, D, p, generator));
    this.posDrop = new Dropout(seed ? 0 : c.dropout, { generator });
    const layerOpts = {
      dropout: c.dropout,
      seedCompat: c.seedCompat,
      normFirst: c.normFirst,
      activation: c.activation,
      eps: c.eps,
      generator,
    };
    this.layers = this.registerModule(
      seed ? "transformer_layers" : "blocks",
      seed
        ? new ModuleList(
            Array.from({ length: c.depth }, () => new SeedViTLayer(D, c.numHeads, c.mlpDim, layerOpts)),
          )
        : new ModuleList(
            Array.from(
              { length: c.depth },
              () =>
                new Block(D, c.numHeads, {
                  mlpRatio: c.mlpDim / D,
                  activation: c.activation,
                  dropout: c.dropout,
                  projDropout: c.dropout,
                  qkvBias: c.qkvBias,
                  eps: c.eps,
                  generator,
                }),
            ),
          ),
    ) as ModuleList<SeedViTLayer> | ModuleList<Block>;
    this.head = new ClassifierHead(D, c.numClasses, generator);
    if (seed) {
      this.norm = null;
      this.headModule = this.registerModule(
        "mlp_head",
        new Sequential(new LayerNorm(D, { eps: c.eps }), this.head),
      );
    } else {
      this.norm = this.registerModule("norm", new LayerNorm(D, { eps: c.eps }));
      this.headModule = this.registerModule("head", this.head);
    }
  }

  get numClasses(): number {
    return this.head.numClasses;
  }

  /** The state-dict key of the position embedding (`positional_encoding` or `pos_embed`). */
  get posEmbedKey(): string {
    return this.config.layout === "seed" ? "positional_encoding" : "pos_embed";
  }

  /** The state-dict keys of the classifier (`mlp_head.1.*` or `head.*`). */
  get headKeys(): string[] {
    const prefix = this.config.layout === "seed" ? "mlp_head.1." : "head.";
    return this.numClasses > 0 ? [`${prefix}weight`, `${prefix}bias`] : [];
  }

  /** A new classifier for `numClasses` classes (timm's `reset_classifier`); the old one is freed. */
  resetClassifier(numClasses: number): void {
    this.head.reset(numClasses);
  }

  /**
   * Lays the position embedding out for images of `size` (number or [H, W]): the class-token row is
   * kept, the patch grid resampled bilinearly (nn's `resamplePositionEmbedding`). The parameter stays
   * the same tensor object; build optimizers after calling this.
   */
  setInputSize(size: number | readonly [number, number]): void {
    const img: [number, number] = typeof size === "number" ? [size, size] : [size[0], size[1]];
    const p = this.config.patchSize;
    if (img.some((s) => !Number.isInteger(s) || s < p))
      throw new RangeError(
        `VisionTransformer.setInputSize: size [${img.join(", ")}] must be integers ≥ patchSize ${p}`,
      );
    const to = gridOf(img, p);
    (this.config as Resolved).imgSize = img;
    if (to[0] === this.grid[0] && to[1] === this.grid[1]) return;
    const pe = noGrad(() => resamplePositionEmbedding(this.posEmbed, this.grid, to, { numPrefixTokens: 1 }));
    this.posEmbed.grad = null;
    this.posEmbed.setData(pe);
    pe.dispose();
    this.grid = to;
  }

  /** Patch tokens with class token and positions: [B,C,H,W] → [B,N+1,D]. */
  private embed(x: Tensor): Tensor {
    const c = this.config;
    const p = c.patchSize;
    if (x.rank !== 4 || x.shape[1] !== c.inChannels) {
      throw new RangeError(
        `VisionTransformer: x must be [B, ${c.inChannels}, H, W], got [${x.shape.join(", ")}]`,
      );
    }
    const [b, ch, h, w] = x.shape as [number, number, number, number];
    const grid = gridOf([h, w], p);
    let pos = this.posEmbed;
    if (grid[0] !== this.grid[0] || grid[1] !== this.grid[1]) {
      if (!c.dynamicImgSize || grid[0] === 0 || grid[1] === 0) {
        throw new RangeError(
          `VisionTransformer: x [${x.shape.join(", ")}] gives a ${grid[0]}×${grid[1]} patch grid (patch ${p}) but the position embedding is for ${this.grid[0]}×${this.grid[1]} (imgSize [${c.imgSize.join(", ")}]); call setInputSize([${h}, ${w}]) or build with dynamicImgSize: true`,
        );
      }
      pos = resamplePositionEmbedding(pos, this.grid, grid, { numPrefixTokens: 1 });
    }
    let tokens: Tensor;
    if (this.patchEmbed instanceof Linear) {
      // [B,C,H,W] → [B,C,h,w,p,p] → [B,h,w,C,p,p] → [B,N,C·p·p] (the seed's unfold recipe)
      const patches = x
        .unfold(2, p, p)
        .unfold(3, p, p)
        .permute(0, 2, 3, 1, 4, 5)
        .reshape(b, grid[0] * grid[1], ch * p * p);
      tokens = this.patchEmbed.forward(patches); // [B,N,D]
    } else if (this.patchEmbed instanceof Conv2d) {
      tokens = this.patchEmbed.forward(x).flatten(2).transpose(1, 2); // [B,D,h,w] → [B,N,D]
    } else tokens = this.patchEmbed.forward(x);
    const cls = this.clsToken.expand(b, 1, c.embedDim);
    return this.posDrop.forward(cat([cls, tokens], 1).add(pos)); // [B,N+1,D]
  }

  private encode(
    x: Tensor,
    returnAttention: VitForwardOptions["returnAttention"],
  ): { tokens: Tensor; attention: Tensor[] } {
    const layers = attentionLayers("VisionTransformer", returnAttention, this.config.depth);
    const want = new Map(layers.map((layer, slot) => [layer, slot])); // layer → slot in the returned list
    return tidy(() => {
      let t = this.embed(x);
      const attention: Tensor[] = new Array(want.size);
      let i = 0;
      for (const layer of this.layers) {
        const ret = want.has(i);
        const r =
          layer instanceof SeedViTLayer
            ? layer.forward(t, ret)
            : layer.forward(t, { returnAttention: ret, checkpoint: this.config.gradientCheckpointing });
        t = r.output;
        if (ret) attention[want.get(i)!] = r.attention!;
        i++;
      }
      return { tokens: this.norm ? this.norm.forward(t) : t, attention };
    });
  }

  /** Encoder output [B,C,H,W] → [B,N+1,D] (timm: after the final norm; seed: the last layer's states). */
  forwardFeatures(x: Tensor): Tensor {
    return this.encode(x, false).tokens;
  }

  /** Class token → logits: [B,N+1,D] → [B,K] (seed: mlp_head; timm: head). */
  forwardHead(tokens: Tensor): Tensor {
    return tidy(() => this.headModule.forward(tokens.select(1, 0)) as Tensor);
  }

  override forward(x: Tensor): Tensor;
  override forward(
    x: Tensor,
    opts: VitForwardOptions & { returnAttention: true | readonly number[] },
  ): VitOutput;
  override forward(x: Tensor, opts?: VitForwardOptions): Tensor | VitOutput;
  override forward(x: Tensor, opts: VitForwardOptions = {}): Tensor | VitOutput {
    const want = opts.returnAttention;
    if (!want) return tidy(() => this.forwardHead(this.forwardFeatures(x)));
    return tidy(() => {
      const { tokens, attention } = this.encode(x, want);
      return { logits: this.forwardHead(tokens), attention };
    });
  }
}

type Preset = Readonly<Pick<VisionTransformerOptions, "patchSize" | "embedDim" | "depth" | "numHeads">>;

/**
 * ViT-Ti/S/B/L with patch 16 or 32 (Dosovitskiy et al. 2021; Ti from DeiT): width, depth, heads; MLP 4×.
 *
 * @example
 * VIT_PRESETS.vit_b16; // { patchSize: 16, embedDim: 768, depth: 12, numHeads: 12 }
 */
export const VIT_PRESETS = {
  vit_ti16: { patchSize: 16, embedDim: 192, depth: 12, numHeads: 3 },
  vit_ti32: { patchSize: 32, embedDim: 192, depth: 12, numHeads: 3 },
  vit_s16: { patchSize: 16, embedDim: 384, depth: 12, numHeads: 6 },
  vit_s32: { patchSize: 32, embedDim: 384, depth: 12, numHeads: 6 },
  vit_b16: { patchSize: 16, embedDim: 768, depth: 12, numHeads: 12 },
  vit_b32: { patchSize: 32, embedDim: 768, depth: 12, numHeads: 12 },
  vit_l16: { patchSize: 16, embedDim: 1024, depth: 24, numHeads: 16 },
  vit_l32: { patchSize: 32, embedDim: 1024, depth: 24, numHeads: 16 },
} as const satisfies Record<string, Preset>;

export type VitPresetName = keyof typeof VIT_PRESETS;

/**
 * The options of preset `name` (224 px, 1000 classes, timm layout, MLP 4×) with `overrides` applied.
 *
 * @example
 * countParameters(vitPresetOptions("vit_l16")); // 304_326_632, nothing allocated
 */
export function vitPresetOptions(
  name: VitPresetName,
  overrides: VisionTransformerOptions = {},
): VisionTransformerOptions {
  const preset = VIT_PRESETS[name];
  if (!preset)
    throw new RangeError(
      `vitPreset: unknown preset '${String(name)}'; known: ${Object.keys(VIT_PRESETS).join(", ")}`,
    );
  return { imgSize: 224, numClasses: 1000, layout: "timm", mlpRatio: 4, ...preset, ...overrides };
}

/**
 * A VisionTransformer from preset `name` (see `VIT_PRESETS`) with `overrides`.
 *
 * @example
 * const vit = vitPreset("vit_s16", { numClasses: 10, imgSize: 96 });
 */
export function vitPreset(name: VitPresetName, overrides: VisionTransformerOptions = {}): VisionTransformer {
  return new VisionTransformer(vitPresetOptions(name, overrides));
}
