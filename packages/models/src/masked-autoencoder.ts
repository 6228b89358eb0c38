/**
 * Masked-autoencoder pretraining (He et al. 2021, "Masked Autoencoders Are Scalable Vision
 * Learners") with the keys of MAE's `models_mae.py`, for RGB or grayscale images of any size
 * (a size that is not a multiple of the patch is zero-padded at the bottom/right).
 *
 *   x [B,C,H,W] → pad [B,C,h·p,w·p] → patch_embed.proj (Conv2d k=s=p) → tokens [B,N,D] + pos_embed[1:]
 *     → per sample keep K = ⌊N·(1−r)⌋ random tokens [B,K,D] → cls_token + pos_embed[0] → [B,1+K,D]
 *     → blocks → norm → latent [B,1+K,D]
 *     → decoder_embed [B,1+K,Dd] → + (N−K) mask_token, back in patch order [B,1+N,Dd] + decoder_pos_embed
 *     → decoder_blocks → decoder_norm → decoder_pred [B,1+N,p·p·C] → drop cls → pred [B,N,p·p·C]
 *   loss = mean over the masked patches of mean((pred − patchify(x))²)   (target optionally normalised per patch)
 */
import {
  arange,
  cat,
  eq,
  type Generator,
  ge,
  logicalAnd,
  logicalOr,
  lt,
  pad,
  rand,
  scatterAdd,
  type Tensor,
  tidy,
  zeros,
} from "@tessera/core";
import {
  Conv2d,
  type GridSize,
  init,
  LayerNorm,
  Linear,
  Module,
  ModuleDict,
  ModuleList,
  sinusoidalEncoding2d,
} from "@tessera/nn";
import { Block } from "./blocks.js";

/** Encoder and decoder sizes of the MAE paper's models (tiny and small are common smaller variants). */
export const MAE_PRESETS = {
  tiny: { embedDim: 192, depth: 12, numHeads: 3, decoderEmbedDim: 128, decoderDepth: 4, decoderNumHeads: 4 },
  small: { embedDim: 384, depth: 12, numHeads: 6, decoderEmbedDim: 256, decoderDepth: 4, decoderNumHeads: 8 },
  base: {
    embedDim: 768,
    depth: 12,
    numHeads: 12,
    decoderEmbedDim: 512,
    decoderDepth: 8,
    decoderNumHeads: 16,
  },
  large: {
    embedDim: 1024,
    depth: 24,
    numHeads: 16,
    decoderEmbedDim: 512,
    decoderDepth: 8,
    decoderNumHeads: 16,
  },
  huge: {
    embedDim: 1280,
    depth: 32,
    numHeads: 16,
    decoderEmbedDim: 512,
    decoderDepth: 8,
    decoderNumHeads: 16,
    patchSize: 14,
  },
} as const;
export type MaePreset = keyof typeof MAE_PRESETS;

export interface MaskedAutoencoderOptions {
  /** Sizes from a preset (default 'base'); the other fields override it. */
  preset?: MaePreset;
  /** Image size, n or [H, W] (default 224); need not be a multiple of the patch. */
  imageSize?: GridSize;
  /** Square patch side (default 16; 14 for 'huge'). */
  patchSize?: number;
  /** Image channels (default 3; 1 for the grayscale autoencoder inputs). */
  inChannels?: number;
  embedDim?: number;
  depth?: number;
  numHeads?: number;
  decoderEmbedDim?: number;
  decoderDepth?: number;
  decoderNumHeads?: number;
  mlpRatio?: number;
  /** Fraction of patches hidden from the encoder (default 0.75). */
  maskRatio?: number;
  /** Normalise each target patch to zero mean and unit variance (MAE's `norm_pix_loss`, default false). */
  normPixLoss?: boolean;
  /** 'sinusoidal' (fixed 2-D sin-cos, MAE's choice; a persistent buffer) or 'learned' (default 'sinusoidal'). */
  positions?: "sinusoidal" | "learned";
  /** Stream for initialisation and, unless a forward call passes its own, for the masks. */
  generator?: Generator;
}

export interface MaskingOptions {
  /** Overrides the model's mask ratio for this call; 0 encodes every patch in order. */
  maskRatio?: number;
  generator?: Generator;
}

export interface MaeEncoderOutput {
  /** [B, 1+K, D]: cls then the K visible tokens, in shuffled order. */
  latent: Tensor;
  /** [B, N] float: 1 where the patch was hidden from the encoder, 0 where it was visible. */
  mask: Tensor;
  /** [B, N] int32: the position of each patch in the shuffled order (MAE's `ids_restore`). */
  idsRestore: Tensor;
}

export interface MaeOutput {
  /** Mean squared error over the masked patches only. */
  loss: Tensor;
  /** [B, N, p·p·C] predicted pixels of every patch (MAE's layout: row, column, channel). */
  pred: Tensor;
  mask: Tensor;
}

/**
 * Cuts images into patch vectors: [B,C,h·p,w·p] → [B,h·w,p·p·C], each patch laid out (row, column,
 * channel) like MAE's `patchify`.
 *
 * @example
 * patchifyImage(randn([2, 1, 28, 28]), 4); // [2, 49, 16]
 */
export function patchifyImage(x: Tensor, patch: number): Tensor {
  const [b, c, H, W] = x.shape as [number, number, number, number];
  if (x.rank !== 4 || H % patch !== 0 || W % patch !== 0) {
    throw new RangeError(
      `patchifyImage: expected [B,C,H,W] with H and W multiples of ${patch}, got [${x.shape.join(",")}]`,
    );
  }
  const [h, w] = [H / patch, W / patch];
  // [B,C,h,p,w,p] → [B,h,w,p,p,C] → [B,h·w,p·p·C]
  return tidy(() =>
    x
      .reshape(b, c, h, patch, w, patch)
      .permute(0, 2, 4, 3, 5, 1)
      .reshape(b, h * w, patch * patch * c),
  );
}

/**
 * The inverse of `patchifyImage`: [B,h·w,p·p·C] → [B,C,h·p,w·p] for a grid [h, w].
 *
 * @example
 * const x = randn([2, 1, 28, 28]);
 * unpatchifyImage(patchifyImage(x, 4), 4, [7, 7], 1); // x again
 */
export function unpatchifyImage(
  patches: Tensor,
  patch: number,
  grid: readonly [number, number],
  channels: number,
): Tensor {
  const [h, w] = grid;
  const b = patches.shape[0]!;
  if (patches.rank !== 3 || patches.shape[1] !== h * w || patches.shape[2] !== patch * patch * channels) {
    throw new RangeError(
      `unpatchifyImage: expected [B,${h * w},${patch * patch * channels}] for a ${h}×${w} grid of ${patch}×${patch}×${channels} patches, got [${patches.shape.join(",")}]`,
    );
  }
  // [B,h,w,p,p,C] → [B,C,h,p,w,p] → [B,C,h·p,w·p]
  return tidy(() =>
    patches
      .reshape(b, h, w, patch, patch, channels)
      .permute(0, 5, 1, 3, 2, 4)
      .reshape(b, channels, h * patch, w * patch),
  );
}

/**
 * Per-sample random masking (MAE's `random_masking`): uniform noise [B,N], its argsort (`idsShuffle`,
 * the kept tokens first) and inverse (`idsRestore`). Core has no sort, so the ranks come from
 * pairwise comparisons (ties broken by index): O(N²) per sample, all on the backend. `idsKeep`
 * [B, keep] lists each sample's visible tokens; `mask` [B, N] is 1 where a token is hidden.
 *
 * @example
 * const { idsKeep, mask } = randomMasking(2, 49, 12, "js"); // 12 visible patches per image
 */
export function randomMasking(
  b: number,
  n: number,
  keep: number,
  backend: string,
  generator?: Generator,
): { idsKeep: Tensor; idsRestore: Tensor; mask: Tensor } {
  const noise = rand([b, n], { generator, backend });
  const idx = arange(0, n, 1, { backend });
  // rank[i] = #{j : noise_j < noise_i} + #{j < i : noise_j = noise_i}
  const before = logicalOr(
    lt(noise.unsqueeze(1), noise.unsqueeze(2)),
    logicalAnd(eq(noise.unsqueeze(1), noise.unsqueeze(2)), lt(idx.unsqueeze(0), idx.unsqueeze(1))),
  );
  const idsRestore = before.sum(-1); // [B,N] int32
  const idsShuffle = scatterAdd(
    zeros([b, n], { dtype: "int32", backend }),
    1,
    idsRestore,
    idx.expand(b, n).contiguous(),
  );
  const mask = ge(idsRestore, keep).cast("float32");
  return { idsKeep: idsShuffle.narrow(1, 0, keep), idsRestore, mask };
}

/**
 * MAE: a ViT encoder that sees only the visible patches and a light decoder that predicts the
 * pixels of the masked ones. `forward(x)` → `{ loss, pred, mask }`; `forwardFeatures(x)` encodes
 * every patch (for fine-tuning or as the patch-token autoencoder's pretrained encoder).
 *
 * @example
 * const mae = new MaskedAutoencoder({ preset: "tiny", imageSize: [201, 201], inChannels: 1 });
 * const { loss, pred, mask } = mae.forward(rand([2, 1, 201, 201])); // pred [2,169,256], mask [2,169]
 * loss.backward();
 */
export class MaskedAutoencoder extends Module {
  readonly patchProj: Conv2d;
  readonly clsToken: Tensor;
  readonly posEmbed: Tensor;
  readonly blocks: ModuleList<Block>;
  readonly norm: LayerNorm;
  readonly decoderEmbed: Linear;
  readonly maskToken: Tensor;
  readonly decoderPosEmbed: Tensor;
  readonly decoderBlocks: ModuleList<Block>;
  readonly decoderNorm: LayerNorm;
  readonly decoderPred: Linear;
  readonly imageSize: readonly [number, number];
  /** Patch grid [h, w] after padding. */
  readonly grid: readonly [number, number];
  readonly patchSize: number;
  readonly inChannels: number;
  readonly maskRatio: number;
  readonly normPixLoss: boolean;
  private readonly generator: Generator | undefined;

  constructor(opts: MaskedAutoencoderOptions = {}) {
    super();
    const o = { ...MAE_PRESETS[opts.preset ?? "base"], ...stripUndefined(opts) };
    const size = o.imageSize ?? 224;
    this.imageSize = typeof size === "number" ? [size, size] : [size[0], size[1]];
    this.patchSize = o.patchSize ?? 16;
    this.inChannels = o.inChannels ?? 3;
    this.maskRatio = o.maskRatio ?? 0.75;
    this.normPixLoss = o.normPixLoss ?? false;
    this.generator = o.generator;
    const p = this.patchSize;
    if (!Number.isInteger(p) || p < 1)
      throw new RangeError(`MaskedAutoencoder: patchSize must be a positive integer, got ${p}`);
    if (!(this.maskRatio >= 0 && this.maskRatio < 1))
      throw new RangeError(`MaskedAutoencoder: maskRatio must be in [0, 1), got ${this.maskRatio}`);
    this.grid = [Math.ceil(this.imageSize[0] / p), Math.ceil(this.imageSize[1] / p)];
    const n = this.grid[0] * this.grid[1];
    const { embedDim: d, decoderEmbedDim: dd } = o;
    const gen = { generator: o.generator };
    const block = (dim: number, heads: number) =>
      new Block(dim, heads, { mlpRatio: o.mlpRatio ?? 4, eps: 1e-6, generator: o.generator });

    this.patchProj = new Conv2d(this.inChannels, d, p, { stride: p, generator: o.generator });
    this.registerModule("patch_embed", new ModuleDict({ proj: this.patchProj }));
    this.clsToken = this.registerParameter("cls_token", init.normal(zeros([1, 1, d]), 0, 0.02, gen));
    const learned = o.positions === "learned";
    if (o.positions !== undefined && !learned && o.positions !== "sinusoidal")
      throw new RangeError(
        `MaskedAutoencoder: positions must be 'sinusoidal' or 'learned', got ${String(o.positions)}`,
      );
    const table = (dim: number) =>
      tidy(() => sinusoidalEncoding2d(this.grid, dim, { clsToken: true }).reshape(1, n + 1, dim));
    const positions = (name: string, dim: number) =>
      learned ? this.registerParameter(name, table(dim)) : this.registerBuffer(name, table(dim));
    this.posEmbed = positions("pos_embed", d);
    this.blocks = this.registerModule(
      "blocks",
      new ModuleList(Array.from({ length: o.depth }, () => block(d, o.numHeads))),
    );
    this.norm = this.registerModule("norm", new LayerNorm(d, { eps: 1e-6 }));

    this.decoderEmbed = this.registerModule("decoder_embed", new Linear(d, dd, gen));
    this.maskToken = this.registerParameter("mask_token", init.normal(zeros([1, 1, dd]), 0, 0.02, gen));
    this.decoderPosEmbed = positions("decoder_pos_embed", dd);
    this.decoderBlocks = this.registerModule(
      "decoder_blocks",
      new ModuleList(Array.from({ length: o.decoderDepth }, () => block(dd, o.decoderNumHeads))),
    );
    this.decoderNorm = this.registerModule("decoder_norm", new LayerNorm(dd, { eps: 1e-6 }));
    this.decoderPred = this.registerModule("decoder_pred", new Linear(dd, p * p * this.inChannels, gen));

    // MAE's initialize_weights: Glorot for every Linear and for the patch projection seen as [D, C·p·p].
    const w = this.patchProj.weight;
    const bound = Math.sqrt(6 / (d + w.size / d));
    init.uniform(w, -bound, bound, gen);
    for (const m of this.modules()) {
      if (m instanceof Linear) {
        init.xavierUniform(m.weight, 1, gen);
        if (m.bias) init.zeros(m.bias);
      }
    }
  }

  /** Zero-pads [B,C,H,W] at the bottom/right to whole patches: [B,C,h·p,w·p]. */
  private padded(x: Tensor): Tensor {
    const [H, W] = this.imageSize;
    if (x.rank !== 4 || x.shape[1] !== this.inChannels || x.shape[2] !== H || x.shape[3] !== W) {
      throw new RangeError(
        `MaskedAutoencoder: expected x [B,${this.inChannels},${H},${W}], got [${x.shape.join(",")}]`,
      );
    }
    const [ph, pw] = [this.grid[0] * this.patchSize - H, this.grid[1] * this.patchSize - W];
    return ph || pw ? pad(x, [0, pw, 0, ph]) : x;
  }

  /** Encodes the visible patches of a fresh random mask. */
  forwardEncoder(x: Tensor, opts: MaskingOptions = {}): MaeEncoderOutput {
    const ratio = opts.maskRatio ?? this.maskRatio;
    if (!(ratio >= 0 && ratio < 1))
      throw new RangeError(`MaskedAutoencoder: maskRatio must be in [0, 1), got ${ratio}`);
    return tidy(() => {
      const b = x.shape[0]!;
      const n = this.grid[0] * this.grid[1];
      const d = this.clsToken.shape[2]!;
      // [B,C,H,W] → [B,D,h,w] → [B,N,D]
      let tokens = this.patchProj
        .forward(this.padded(x))
        .flatten(2)
        .transpose(1, 2)
        .add(this.posEmbed.narrow(1, 1, n));
      const keep = Math.floor(n * (1 - ratio));
      let mask: Tensor;
      let idsRestore: Tensor;
      if (ratio === 0) {
        mask = zeros([b, n], { backend: x.backendName });
        idsRestore = arange(0, n, 1, { backend: x.backendName }).expand(b, n).contiguous();
      } else {
        const m = randomMasking(b, n, keep, x.backendName, opts.generator ?? this.generator);
        tokens = tokens.gather(1, m.idsKeep.unsqueeze(-1).expand(b, keep, d)); // [B,K,D]
        [mask, idsRestore] = [m.mask, m.idsRestore];
      }
      const cls = this.clsToken.add(this.posEmbed.narrow(1, 0, 1)).expand(b, 1, d);
      let h = cat([cls, tokens], 1); // [B,1+K,D]
      for (const blk of this.blocks) h = blk.forward(h).output;
      return { latent: this.norm.forward(h), mask, idsRestore };
    });
  }

  /** Predicts every patch's pixels from the encoded visible tokens: [B,1+K,D] → [B,N,p·p·C]. */
  forwardDecoder(latent: Tensor, idsRestore: Tensor): Tensor {
    return tidy(() => {
      const [b, k1] = latent.shape as [number, number];
      const n = idsRestore.shape[1]!;
      const dd = this.maskToken.shape[2]!;
      const h0 = this.decoderEmbed.forward(latent); // [B,1+K,Dd]
      const shuffled = cat([h0.narrow(1, 1, k1 - 1), this.maskToken.expand(b, n + 1 - k1, dd)], 1); // [B,N,Dd]
      const ordered = shuffled.gather(1, idsRestore.unsqueeze(-1).expand(b, n, dd));
      let h = cat([h0.narrow(1, 0, 1), ordered], 1).add(this.decoderPosEmbed); // [B,1+N,Dd]
      for (const blk of this.decoderBlocks) h = blk.forward(h).output;
      return this.decoderPred.forward(this.decoderNorm.forward(h)).narrow(1, 1, n); // [B,N,p·p·C]
    });
  }

  /** Mean squared error per patch, averaged over the masked patches only (`mask` 1 = masked). */
  forwardLoss(x: Tensor, pred: Tensor, mask: Tensor): Tensor {
    return tidy(() => {
      let target = this.patchify(x); // [B,N,p·p·C]
      if (this.normPixLoss) {
        const mean = target.mean(-1, true);
        target = target.sub(mean).div(target.var(-1, { keepdim: true }).add(1e-6).sqrt());
      }
      const d = pred.sub(target);
      return d.mul(d).mean(-1).mul(mask).sum().div(mask.sum());
    });
  }

  override forward(x: Tensor, opts: MaskingOptions = {}): MaeOutput {
    return tidy(() => {
      const { latent, mask, idsRestore } = this.forwardEncoder(x, opts);
      const pred = this.forwardDecoder(latent, idsRestore);
      return { loss: this.forwardLoss(x, pred, mask), pred, mask };
    });
  }

  /** Every patch encoded, in order: [B,C,H,W] → [B,1+N,D] (cls first). */
  forwardFeatures(x: Tensor): Tensor {
    return tidy(() => this.forwardEncoder(x, { maskRatio: 0 }).latent);
  }

  /** [B,C,H,W] → [B,N,p·p·C] (zero-padded to whole patches). */
  patchify(x: Tensor): Tensor {
    return tidy(() => patchifyImage(this.padded(x), this.patchSize));
  }

  /** [B,N,p·p·C] → [B,C,H,W], cropping the padding. */
  unpatchify(patches: Tensor): Tensor {
    return tidy(() => {
      const img = unpatchifyImage(patches, this.patchSize, this.grid, this.inChannels);
      return img.narrow(2, 0, this.imageSize[0]).narrow(3, 0, this.imageSize[1]);
    });
  }

  override extraRepr(): string {
    return `image_size=(${this.imageSize.join(", ")}), patch_size=${this.patchSize}, mask_ratio=${this.maskRatio}`;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
