/**
 * TransformerAutoencoder: the seed's `AutoEncoder_TransformerV2_0`, for grayscale images of any
 * fixed size (201×201, 152×1280, 152×X), with a patch-token variant.
 *
 *   flat (the seed):  x [B,1,H,W] → flatten [B,H·W] → proj [B,D] → one token [B,1,D] + pos
 *                     → blocks → norm → latent [B,D]
 *                     latent → expand [B,1,D] + pos → blocks → norm → out [B,1,H·W] → [B,1,H,W]
 *   patch:            x [B,1,H,W] → pad to p·h × p·w → patches [B,N,p²] (N = h·w) → proj [B,N,D]
 *                     + pos (2-D sin-cos, learnable) → blocks → norm → mean (or cls) → latent [B,D]
 *                     latent → expand [B,1,D] + pos [1,N,D] → [B,N,D] → blocks → norm → out [B,N,p²]
 *                     → fold [B,1,p·h,p·w] → crop [B,1,H,W]
 *
 * The flat form attends over one position (every map is exactly 1) and its first Linear has H·W·D
 * weights; the patch form attends over patches and its first Linear has p²·D.
 */
import { noGrad } from "@tessera/autograd";
import { cat, type Generator, gather, onesLike, pad, stack, type Tensor, tidy, zeros } from "@tessera/core";
import {
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  resamplePositionEmbedding,
  sinusoidalEncoding1d,
  sinusoidalEncoding2d,
} from "@tessera/nn";
import { attentionLayers } from "./attention-tools.js";
import { Block } from "./blocks.js";
import { patchifyImage, randomMasking } from "./masked-autoencoder.js";

export type AutoencoderPreset = "tiny" | "small" | "medium" | "large" | "xlarge";

export interface AutoencoderSize {
  latent: number;
  heads: number;
  encoderLayers: number;
  decoderLayers: number;
}

/** 'tiny' is the seed's (fixture README); the others are our choice (the seed's table is not available). */
export const AUTOENCODER_PRESETS: Readonly<Record<AutoencoderPreset, Readonly<AutoencoderSize>>> = {
  tiny: { latent: 128, heads: 4, encoderLayers: 3, decoderLayers: 3 },
  small: { latent: 256, heads: 8, encoderLayers: 4, decoderLayers: 4 },
  medium: { latent: 384, heads: 8, encoderLayers: 6, decoderLayers: 6 },
  large: { latent: 512, heads: 8, encoderLayers: 8, decoderLayers: 8 },
  xlarge: { latent: 768, heads: 12, encoderLayers: 12, decoderLayers: 12 },
};

export interface TransformerAutoencoderOptions extends Partial<AutoencoderSize> {
  /** [H, W] (or one number for a square); default 201. The patch tokenizer also runs at other sizes. */
  inputSize?: number | readonly [number, number];
  /** Sizes from a preset (default 'tiny'); explicit latent/heads/layers override it. */
  preset?: AutoencoderPreset;
  /** 'flat' (the seed: the whole image is one token, the default) or 'patch'. */
  tokenizer?: "flat" | "patch";
  /** Patch side for tokenizer 'patch' (default 16); inputs are zero-padded to a multiple. */
  patchSize?: number;
  /** Latent from the patch tokens: 'mean' (default) or a learnable 'cls' token. */
  pool?: "mean" | "cls";
  /** MLP hidden size as a multiple of latent (default 4). */
  mlpRatio?: number;
  /** Fused attention when no maps are requested (default true); false always computes the weights. */
  useFlashAttention?: boolean;
  /** Recompute each block's activations in backward (Block's `checkpoint`). Default false. */
  gradientCheckpointing?: boolean;
  generator?: Generator;
}

type Resolved = Required<Omit<TransformerAutoencoderOptions, "preset" | "generator" | "inputSize">> & {
  inputSize: [number, number];
  generator?: Generator;
};

function resolve(opts: TransformerAutoencoderOptions): Resolved {
  const preset = opts.preset ?? "tiny";
  const base = AUTOENCODER_PRESETS[preset];
  if (!base) throw new RangeError(`TransformerAutoencoder: unknown preset '${preset}'`);
  const s = opts.inputSize ?? 201;
  const inputSize: [number, number] = typeof s === "number" ? [s, s] : [s[0], s[1]];
  if (!inputSize.every((d) => Number.isInteger(d) && d > 0))
    throw new RangeError(
      `TransformerAutoencoder: inputSize must be positive integers, got ${JSON.stringify(s)}`,
    );
  const r: Resolved = {
    ...base,
    tokenizer: "flat",
    patchSize: 16,
    pool: "mean",
    mlpRatio: 4,
    useFlashAttention: true,
    gradientCheckpointing: false,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    inputSize,
  };
  if (r.tokenizer !== "flat" && r.tokenizer !== "patch")
    throw new RangeError(`TransformerAutoencoder: tokenizer must be 'flat' or 'patch', got '${r.tokenizer}'`);
  if (!Number.isInteger(r.patchSize) || r.patchSize <= 0)
    throw new RangeError(`TransformerAutoencoder: patchSize must be a positive integer, got ${r.patchSize}`);
  if (r.tokenizer === "patch" && r.latent % 4 !== 0)
    throw new RangeError(
      `TransformerAutoencoder: the patch tokenizer needs latent % 4 == 0 (2-D sin-cos), got ${r.latent}`,
    );
  return r;
}

const gridOf = (hw: readonly number[], p: number): [number, number] => [
  Math.ceil(hw[0]! / p),
  Math.ceil(hw[1]! / p),
];

function checkInput(who: string, x: Tensor, cfg: Resolved): [number, number] {
  const [H, W] = cfg.inputSize;
  const ok =
    x.rank === 4 && x.shape[1] === 1 && (cfg.tokenizer === "patch" || (x.shape[2] === H && x.shape[3] === W));
  if (!ok) {
    const want = cfg.tokenizer === "patch" ? "[B, 1, H, W]" : `[B, 1, ${H}, ${W}]`;
    throw new RangeError(`${who}: x must be ${want}, got [${x.shape.join(", ")}]`);
  }
  return [x.shape[2]!, x.shape[3]!];
}

/**
 * Runs the blocks; head-averaged maps [B,N,N] of the blocks `which` picks, in its order, or null
 * when it asks for none (`false`/undefined).
 */
function runBlocks(
  model: string,
  blocks: ModuleList<Block>,
  z: Tensor,
  which: boolean | readonly number[] | undefined,
  cfg: Resolved,
) {
  const layers = attentionLayers(model, which, blocks.length);
  const want = new Map(layers.map((layer, slot) => [layer, slot])); // layer → slot in the returned list
  const attention: Tensor[] = new Array(want.size);
  let i = 0;
  for (const blk of blocks) {
    const slot = want.get(i++);
    const explicit = slot !== undefined || !cfg.useFlashAttention;
    const r = blk.forward(z, { returnAttention: explicit, checkpoint: cfg.gradientCheckpointing });
    z = r.output;
    if (slot !== undefined) attention[slot] = r.attention!.mean(1); // [B,H,N,N] → [B,N,N]
  }
  return { z, attention: which ? attention : null };
}

/** The learnable position table: sin-cos of position 0 [1,1,D] (flat) or of the patch grid [1,N,D]. */
function initialPositions(cfg: Resolved): Tensor {
  return tidy(() =>
    cfg.tokenizer === "flat"
      ? sinusoidalEncoding1d(1, cfg.latent).reshape([1, 1, cfg.latent])
      : sinusoidalEncoding2d(gridOf(cfg.inputSize, cfg.patchSize), cfg.latent).unsqueeze(0),
  );
}

/** `pos` at grid `grid`, resampled bilinearly when it differs from the one it was built for. */
function positionsAt(pos: Tensor, cfg: Resolved, grid: [number, number]): Tensor {
  return resamplePositionEmbedding(pos, gridOf(cfg.inputSize, cfg.patchSize), grid);
}

export interface EncoderOutput {
  /** [B, latent] */
  latent: Tensor;
  /** With `maskRatio`: [B, N], 1 where a patch was hidden from the encoder. */
  mask?: Tensor;
  /** Head-averaged [B, N, N] (N = 1 for the flat tokenizer) per requested block, in the order asked; null when none was asked for. */
  attention: Tensor[] | null;
}

/**
 * The autoencoder's encoder (reference `AEEncoder`; keys `proj`, `pos`, `blocks.N.*`, `norm`, and
 * `cls_token` with pool 'cls'). Also the frame encoder of `AutoencoderLSTM`.
 *
 * @example
 * const enc = new AutoencoderEncoder({ inputSize: 21, latent: 40, heads: 4, encoderLayers: 3 });
 * enc.forward(randn([2, 1, 21, 21])).latent; // [2, 40]
 */
export class AutoencoderEncoder extends Module {
  readonly config: Readonly<Resolved>;
  readonly proj: Linear;
  readonly pos: Tensor;
  readonly clsToken: Tensor | null = null;
  readonly blocks: ModuleList<Block>;
  readonly norm: LayerNorm;

  constructor(opts: TransformerAutoencoderOptions = {}) {
    super();
    const cfg = resolve(opts);
    this.config = cfg;
    const [H, W] = cfg.inputSize;
    const d = cfg.latent;
    const inFeatures = cfg.tokenizer === "flat" ? H * W : cfg.patchSize ** 2;
    this.proj = this.registerModule("proj", new Linear(inFeatures, d, { generator: cfg.generator }));
    this.pos = this.registerParameter("pos", initialPositions(cfg));
    if (cfg.tokenizer === "patch" && cfg.pool === "cls")
      this.clsToken = this.registerParameter("cls_token", zeros([1, 1, d]));
    const blockOpts = { mlpRatio: cfg.mlpRatio, generator: cfg.generator };
    this.blocks = this.registerModule(
      "blocks",
      new ModuleList(Array.from({ length: cfg.encoderLayers }, () => new Block(d, cfg.heads, blockOpts))),
    );
    this.norm = this.registerModule("norm", new LayerNorm(d));
  }

  /**
   * `maskRatio` (patch tokenizer only) hides that share of each image's patches from the encoder,
   * drawn per sample from `generator` (MAE's random masking): the blocks see the visible tokens only.
   */
  override forward(
    x: Tensor,
    opts: { returnAttention?: boolean | readonly number[]; maskRatio?: number; generator?: Generator } = {},
  ): EncoderOutput {
    const cfg = this.config;
    const [H, W] = checkInput("AutoencoderEncoder", x, cfg);
    const ratio = opts.maskRatio ?? 0;
    if (ratio !== 0 && cfg.tokenizer !== "patch")
      throw new RangeError(
        "AutoencoderEncoder: maskRatio needs tokenizer 'patch' (the flat tokenizer has one token)",
      );
    if (!(ratio >= 0 && ratio < 1))
      throw new RangeError(`AutoencoderEncoder: maskRatio must be in [0, 1), got ${ratio}`);
    const b = x.shape[0]!;
    return tidy(() => {
      let z: Tensor;
      let mask: Tensor | undefined;
      if (cfg.tokenizer === "flat") {
        z = this.proj
          .forward(x.reshape([b, H * W]))
          .unsqueeze(1)
          .add(this.pos); // [B,1,D]
      } else {
        const p = cfg.patchSize;
        const [gh, gw] = gridOf([H, W], p);
        const padded = pad(x, [0, gw * p - W, 0, gh * p - H], 0); // [B,1,gh·p,gw·p]
        const patches = padded
          .reshape([b, gh, p, gw, p])
          .permute(0, 1, 3, 2, 4)
          .reshape([b, gh * gw, p * p]); // [B,N,p²]
        z = this.proj.forward(patches).add(positionsAt(this.pos, cfg, [gh, gw])); // [B,N,D]
        if (ratio > 0) {
          const n = gh * gw;
          const keep = Math.max(1, Math.floor(n * (1 - ratio)));
          const m = randomMasking(b, n, keep, x.backendName, opts.generator);
          mask = m.mask;
          z = gather(z, 1, m.idsKeep.unsqueeze(-1).expand(b, keep, cfg.latent)); // [B,keep,D]
        }
        if (this.clsToken) z = cat([this.clsToken.expand([b, 1, cfg.latent]), z], 1); // [B,1+N,D]
      }
      const r = runBlocks(this.typeName, this.blocks, z, opts.returnAttention, cfg);
      const normed = this.norm.forward(r.z);
      // [B,N,D] → [B,D]
      const latent =
        cfg.tokenizer === "flat" ? normed.squeeze(1) : this.clsToken ? normed.select(1, 0) : normed.mean(1);
      return mask ? { latent, attention: r.attention, mask } : { latent, attention: r.attention };
    });
  }
}

export interface DecoderOutput {
  /** [B, 1, H, W] */
  reconstruction: Tensor;
  /** Head-averaged [B, N, N] per requested block, in the order asked; null when none was asked for. */
  attention: Tensor[] | null;
}

/**
 * The autoencoder's decoder (reference `AEDecoder`; keys `expand`, `pos`, `blocks.N.*`, `norm`, `out`).
 *
 * @example
 * const dec = new AutoencoderDecoder({ inputSize: 21, latent: 40, heads: 4, decoderLayers: 3 });
 * dec.forward(randn([2, 40])).reconstruction; // [2, 1, 21, 21]
 */
export class AutoencoderDecoder extends Module {
  readonly config: Readonly<Resolved>;
  readonly expand: Linear;
  readonly pos: Tensor;
  readonly blocks: ModuleList<Block>;
  readonly norm: LayerNorm;
  readonly out: Linear;

  constructor(opts: TransformerAutoencoderOptions = {}) {
    super();
    const cfg = resolve(opts);
    this.config = cfg;
    const d = cfg.latent;
    const outFeatures = cfg.tokenizer === "flat" ? cfg.inputSize[0] * cfg.inputSize[1] : cfg.patchSize ** 2;
    this.expand = this.registerModule("expand", new Linear(d, d, { generator: cfg.generator }));
    this.pos = this.registerParameter("pos", initialPositions(cfg));
    const blockOpts = { mlpRatio: cfg.mlpRatio, generator: cfg.generator };
    this.blocks = this.registerModule(
      "blocks",
      new ModuleList(Array.from({ length: cfg.decoderLayers }, () => new Block(d, cfg.heads, blockOpts))),
    );
    this.norm = this.registerModule("norm", new LayerNorm(d));
    this.out = this.registerModule("out", new Linear(d, outFeatures, { generator: cfg.generator }));
  }

  /** `outputSize` [H, W] (patch tokenizer only; default inputSize). */
  override forward(
    latent: Tensor,
    opts: { returnAttention?: boolean | readonly number[]; outputSize?: readonly [number, number] } = {},
  ): DecoderOutput {
    const cfg = this.config;
    if (latent.rank !== 2 || latent.shape[1] !== cfg.latent)
      throw new RangeError(
        `AutoencoderDecoder: latent must be [B, ${cfg.latent}], got [${latent.shape.join(", ")}]`,
      );
    const [H, W] = cfg.tokenizer === "flat" ? cfg.inputSize : (opts.outputSize ?? cfg.inputSize);
    const b = latent.shape[0]!;
    const p = cfg.patchSize;
    const [gh, gw] = gridOf([H, W], p);
    return tidy(() => {
      const pos = cfg.tokenizer === "flat" ? this.pos : positionsAt(this.pos, cfg, [gh, gw]);
      const z = this.expand.forward(latent).unsqueeze(1).add(pos); // [B,1,D] (flat) or [B,N,D]
      const r = runBlocks(this.typeName, this.blocks, z, opts.returnAttention, cfg);
      const y = this.out.forward(this.norm.forward(r.z)); // [B,1,H·W] or [B,N,p²]
      const reconstruction =
        cfg.tokenizer === "flat"
          ? y.reshape([b, 1, H, W])
          : y
              .reshape([b, gh, gw, p, p])
              .permute(0, 1, 3, 2, 4)
              .reshape([b, 1, gh * p, gw * p]) // fold
              .narrow(2, 0, H)
              .narrow(3, 0, W);
      return { reconstruction, attention: r.attention };
    });
  }
}

export interface AutoencoderOutput {
  /** [B, 1, H, W] */
  reconstruction: Tensor;
  /** [B, latent] */
  latent: Tensor;
  /** Head-averaged maps [B, N, N] per requested block, in the order asked; null when none was asked for. */
  attention: { encoder: Tensor[]; decoder: Tensor[] } | null;
}

/**
 * The autoencoder's `returnAttention`: one request for both halves (a list picks blocks by the
 * same indices in each), or `{ encoder, decoder }`, one per half.
 */
export type AutoencoderAttentionRequest = boolean | readonly number[] | PerHalf;
type PerHalf = { encoder?: boolean | readonly number[]; decoder?: boolean | readonly number[] };
const isPerHalf = (w: AutoencoderAttentionRequest | undefined): w is PerHalf =>
  typeof w === "object" && !Array.isArray(w);

export interface AutoencoderConfig extends AutoencoderSize {
  inputSize: [number, number];
  tokenizer: "flat" | "patch";
  patchSize: number | null;
  pool: "mean" | "cls" | null;
  mlpRatio: number;
  useFlashAttention: boolean;
  gradientCheckpointing: boolean;
  /** Every parameter element (the seed's table leaves out the H·W projections, which dominate). */
  numParameters: number;
  /** Elements per part: 'encoder.proj', 'encoder.blocks', 'decoder.out', … */
  parameterBreakdown: Record<string, number>;
}

/**
 * The transformer autoencoder (reference `TransformerAutoencoder`; keys `encoder.*`, `decoder.*`).
 *
 * @example
 * const ae = new TransformerAutoencoder({ inputSize: [152, 1280], preset: "tiny", tokenizer: "patch" });
 * const { reconstruction, latent } = ae.forward(randn([1, 1, 152, 1280])); // [1,1,152,1280], [1,128]
 * const maps = ae.getAttentionMaps(randn([1, 1, 152, 1280])); // { layer_0: [1,800,800], …, average }
 */
export class TransformerAutoencoder extends Module {
  readonly encoder: AutoencoderEncoder;
  readonly decoder: AutoencoderDecoder;

  constructor(opts: TransformerAutoencoderOptions = {}) {
    super();
    this.encoder = this.registerModule("encoder", new AutoencoderEncoder(opts));
    this.decoder = this.registerModule("decoder", new AutoencoderDecoder(opts));
  }

  /**
   * `returnAttention`: `true` for every block of both halves; a list of indices picks those blocks
   * in the encoder and, by the same indices, in the decoder (negative counts from the end of each);
   * `{ encoder, decoder }` asks each half separately (a half left out returns no maps).
   */
  override forward(
    x: Tensor,
    opts: { returnAttention?: AutoencoderAttentionRequest } = {},
  ): AutoencoderOutput {
    checkInput("TransformerAutoencoder", x, this.encoder.config);
    const want = opts.returnAttention;
    const [enc, dec] = isPerHalf(want) ? [want.encoder, want.decoder] : [want, want];
    // Checked here so that an error names this model, not its halves.
    const encoder = attentionLayers("TransformerAutoencoder encoder", enc, this.encoder.blocks.length);
    const decoder = attentionLayers("TransformerAutoencoder decoder", dec, this.decoder.blocks.length);
    return tidy(() => {
      const e = this.encoder.forward(x, { returnAttention: encoder });
      const outputSize: [number, number] = [x.shape[2]!, x.shape[3]!];
      const d = this.decoder.forward(e.latent, { returnAttention: decoder, outputSize });
      const attention = want ? { encoder: e.attention ?? [], decoder: d.attention ?? [] } : null;
      return { reconstruction: d.reconstruction, latent: e.latent, attention };
    });
  }

  /**
   * Masked-patch pretraining (MAE-style, patch tokenizer only): the encoder sees a random
   * `1 − maskRatio` of each image's patches, the decoder reconstructs the whole image from the
   * latent, and the loss is the mean squared error over the hidden patches only (pixels of the
   * zero padding excluded). After pretraining, `forward`/`embedding` use every patch.
   *
   * @example
   * const ae = createAutoencoder({ inputSize: [152, 1280], tokenizer: "patch", patchSize: 16 });
   * const { loss } = ae.maskedReconstruction(x, { maskRatio: 0.75 });
   * loss.backward();
   */
  maskedReconstruction(
    x: Tensor,
    opts: { maskRatio?: number; generator?: Generator } = {},
  ): { loss: Tensor; reconstruction: Tensor; mask: Tensor } {
    const cfg = this.encoder.config;
    if (cfg.tokenizer !== "patch")
      throw new RangeError("TransformerAutoencoder.maskedReconstruction: needs tokenizer 'patch'");
    checkInput("TransformerAutoencoder", x, cfg);
    return tidy(() => {
      const e = this.encoder.forward(x, { maskRatio: opts.maskRatio ?? 0.75, generator: opts.generator });
      const [H, W] = [x.shape[2]!, x.shape[3]!];
      const d = this.decoder.forward(e.latent, { outputSize: [H, W] });
      const p = cfg.patchSize;
      const [gh, gw] = gridOf([H, W], p);
      const padTo = (t: Tensor) => pad(t, [0, gw * p - W, 0, gh * p - H], 0);
      // Per-patch squared error over real pixels: [B,N,p²] → [B,N]
      const valid = patchifyImage(padTo(onesLike(x)), p);
      const err = patchifyImage(padTo(d.reconstruction.sub(x)), p);
      const perPatch = err.mul(err).sum(-1).div(valid.sum(-1));
      const mask = e.mask!;
      return { loss: perPatch.mul(mask).sum().div(mask.sum()), reconstruction: d.reconstruction, mask };
    });
  }

  /** The latent [B, latent] of `x` (the encoder alone). */
  embedding(x: Tensor): Tensor {
    return tidy(() => this.encoder.forward(x).latent);
  }

  /**
   * The encoder's head-averaged attention, without gradients: `layer_i` [B, N, N] per block and
   * `average` over the blocks (N = 1 for the flat tokenizer; N + 1 with a cls token).
   */
  getAttentionMaps(x: Tensor): Record<string, Tensor> {
    return noGrad(() =>
      tidy(() => {
        const maps = this.encoder.forward(x, { returnAttention: true }).attention!;
        const out: Record<string, Tensor> = {};
        maps.forEach((m, i) => {
          out[`layer_${i}`] = m;
        });
        out["average"] = stack(maps).mean(0);
        return out;
      }),
    );
  }

  getConfig(): AutoencoderConfig {
    const c = this.encoder.config;
    const parameterBreakdown: Record<string, number> = {};
    for (const [key, p] of this.namedParameters()) {
      const part = key.split(".").slice(0, 2).join(".");
      parameterBreakdown[part] = (parameterBreakdown[part] ?? 0) + p.size;
    }
    const patch = c.tokenizer === "patch";
    return {
      inputSize: [...c.inputSize],
      latent: c.latent,
      heads: c.heads,
      encoderLayers: c.encoderLayers,
      decoderLayers: c.decoderLayers,
      tokenizer: c.tokenizer,
      patchSize: patch ? c.patchSize : null,
      pool: patch ? c.pool : null,
      mlpRatio: c.mlpRatio,
      useFlashAttention: c.useFlashAttention,
      gradientCheckpointing: c.gradientCheckpointing,
      numParameters: this.numParameters(),
      parameterBreakdown,
    };
  }
}

/**
 * The seed's factory: `new TransformerAutoencoder(opts)`.
 *
 * @example
 * const ae = createAutoencoder({ inputSize: 201, preset: "tiny", gradientCheckpointing: true });
 * ae.getConfig().numParameters; // 11,590,097: encoder.proj and decoder.out hold 10,383,185 of it
 */
export function createAutoencoder(opts: TransformerAutoencoderOptions = {}): TransformerAutoencoder {
  return new TransformerAutoencoder(opts);
}
