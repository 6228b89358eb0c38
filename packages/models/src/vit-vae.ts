/**
 * A variational autoencoder with ViT encoder and decoder (Kingma & Welling 2014 on ViT blocks).
 *
 *   x [B,C,H,W] → pad → patch_embed.proj (Conv2d k=s=p) → tokens [B,N,D] → cls_token ⧺ → + pos_embed [B,1+N,D]
 *     → blocks → norm → cls token (or the patch mean) [B,D] → fc_mu, fc_logvar [B,L]
 *     → z = μ + exp(½·log σ²)·ε [B,L]   (z = μ in eval mode or with { sample: false })
 *     → decoder_embed → latent token [B,1,Dd] ⧺ N × query_token [B,1+N,Dd] + decoder_pos_embed
 *     → decoder_blocks → decoder_norm → drop the latent token → decoder_pred [B,N,p·p·C] → fold → [B,C,H,W]
 *   ELBO loss = reconstruction (per image, summed over pixels) + β·KL(N(μ, σ²) ‖ N(0, I)), both batch means
 */
import {
  binaryCrossEntropyWithLogits,
  cat,
  exp,
  type Generator,
  mseLoss,
  pad,
  randn,
  type Tensor,
  tidy,
  zeros,
} from "@tessera/core";
import {
  Conv2d,
  type GridSize,
  init,
  klNormal,
  LayerNorm,
  Linear,
  Module,
  ModuleDict,
  ModuleList,
  sinusoidalEncoding2d,
} from "@tessera/nn";
import { Block } from "./blocks.js";
import { unpatchifyImage } from "./masked-autoencoder.js";

export type VaeReconstruction = "mse" | "bce";

/** Named sizes: tiny for 28×28 grayscale, small for 32×32 colour, base for 64×64 colour. */
export const VIT_VAE_PRESETS = {
  tiny: { imageSize: 28, patchSize: 4, inChannels: 1, embedDim: 64, depth: 2, numHeads: 4, latentDim: 16 },
  small: { imageSize: 32, patchSize: 4, inChannels: 3, embedDim: 192, depth: 6, numHeads: 3, latentDim: 64 },
  base: { imageSize: 64, patchSize: 8, inChannels: 3, embedDim: 384, depth: 8, numHeads: 6, latentDim: 128 },
} as const;
export type ViTVAEPreset = keyof typeof VIT_VAE_PRESETS;

export interface ViTVAEOptions {
  /** Sizes from a preset (default 'tiny'); the other fields override it. */
  preset?: ViTVAEPreset;
  /** n or [H, W]; need not be a multiple of the patch (zero-padded at the bottom/right). */
  imageSize?: GridSize;
  patchSize?: number;
  inChannels?: number;
  embedDim?: number;
  depth?: number;
  numHeads?: number;
  latentDim?: number;
  /** Decoder width, depth and heads (default: the encoder's). */
  decoderEmbedDim?: number;
  decoderDepth?: number;
  decoderNumHeads?: number;
  mlpRatio?: number;
  /** 'learned' (truncated normal, std 0.02; default) or 'sinusoidal' (fixed 2-D sin-cos buffers). */
  positions?: "learned" | "sinusoidal";
  /** What μ and log σ² are read from: the cls token (default) or the mean of the patch tokens. */
  pool?: "cls" | "mean";
  /** The likelihood `elbo` uses by default: 'mse' (Gaussian; decode returns pixels) or 'bce' (Bernoulli; decode returns sigmoid(logits)). */
  reconstruction?: VaeReconstruction;
  /** Stream for initialisation and, unless a call passes its own, for ε. */
  generator?: Generator;
}

export interface VaeForwardOptions {
  /** Draw z = μ + σ·ε (default: in training mode); false gives z = μ. */
  sample?: boolean;
  generator?: Generator;
}

export interface VaeOutput {
  /** [B,C,H,W]: the decoder's raw output (pixels for 'mse', logits for 'bce'). */
  output: Tensor;
  mu: Tensor;
  logvar: Tensor;
  z: Tensor;
}

export interface ElboOptions extends VaeForwardOptions {
  /** Weight of the KL term (default 1; β-VAE for β ≠ 1). */
  beta?: number;
  /** Default: the model's `reconstruction`. 'bce' needs targets in [0, 1]. */
  reconstruction?: VaeReconstruction;
}

export interface ElboOutput {
  /** reconstruction + β·kl. */
  loss: Tensor;
  /** Mean over the batch of each image's summed squared error or binary cross-entropy. */
  reconstruction: Tensor;
  /** `klNormal(mu, logvar)`: mean over the batch of each sample's summed KL. */
  kl: Tensor;
}

/**
 * The reparameterisation trick: z = μ + exp(½·logvar)·ε with ε ~ N(0, I) from core's generator
 * (or the `eps` given), differentiable in μ and logvar.
 *
 * @example
 * const z = reparameterize(zeros([8, 16]), full([8, 16], -2), { generator: new Generator(0) }); // [8,16], σ = e⁻¹
 */
export function reparameterize(
  mu: Tensor,
  logvar: Tensor,
  opts: { eps?: Tensor; generator?: Generator } = {},
): Tensor {
  return tidy(() => {
    const eps =
      opts.eps ?? randn(mu.shape, { generator: opts.generator, dtype: mu.dtype, backend: mu.backendName });
    return mu.add(exp(logvar.mul(0.5)).mul(eps));
  });
}

/**
 * ViT-VAE: `encode(x)` → {mu, logvar}, `decode(z)` → images, `forward(x)` → {output, mu, logvar, z},
 * `elbo(x, { beta, reconstruction })` → {loss, reconstruction, kl}, `sample(n)`.
 *
 * @example
 * const vae = new ViTVAE({ preset: "tiny", reconstruction: "bce" });
 * const images = rand([8, 1, 28, 28]); // in [0, 1]
 * const { loss, reconstruction, kl } = vae.elbo(images, { beta: 1 });
 * loss.backward();
 * const digits = vae.sample(16); // [16,1,28,28]
 */
export class ViTVAE extends Module {
  readonly patchProj: Conv2d;
  readonly clsToken: Tensor;
  readonly posEmbed: Tensor;
  readonly blocks: ModuleList<Block>;
  readonly norm: LayerNorm;
  readonly fcMu: Linear;
  readonly fcLogvar: Linear;
  readonly decoderEmbed: Linear;
  readonly queryToken: Tensor;
  readonly decoderPosEmbed: Tensor;
  readonly decoderBlocks: ModuleList<Block>;
  readonly decoderNorm: LayerNorm;
  readonly decoderPred: Linear;
  readonly imageSize: readonly [number, number];
  readonly grid: readonly [number, number];
  readonly patchSize: number;
  readonly inChannels: number;
  readonly latentDim: number;
  readonly pool: "cls" | "mean";
  readonly reconstruction: VaeReconstruction;
  private readonly generator: Generator | undefined;

  constructor(opts: ViTVAEOptions = {}) {
    super();
    const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    const o: ViTVAEOptions & (typeof VIT_VAE_PRESETS)[ViTVAEPreset] = {
      ...VIT_VAE_PRESETS[opts.preset ?? "tiny"],
      ...defined,
    };
    const size = o.imageSize;
    this.imageSize = typeof size === "number" ? [size, size] : [size[0], size[1]];
    this.patchSize = o.patchSize;
    this.inChannels = o.inChannels;
    this.latentDim = o.latentDim;
    this.pool = o.pool ?? "cls";
    this.reconstruction = o.reconstruction ?? "mse";
    this.generator = o.generator;
    if (this.pool !== "cls" && this.pool !== "mean")
      throw new RangeError(`ViTVAE: pool must be 'cls' or 'mean', got ${String(this.pool)}`);
    checkReconstruction(this.reconstruction);
    if (o.positions !== undefined && o.positions !== "learned" && o.positions !== "sinusoidal")
      throw new RangeError(`ViTVAE: positions must be 'learned' or 'sinusoidal', got ${String(o.positions)}`);
    const p = this.patchSize;
    this.grid = [Math.ceil(this.imageSize[0] / p), Math.ceil(this.imageSize[1] / p)];
    const n = this.grid[0] * this.grid[1];
    const d = o.embedDim;
    const dd = o.decoderEmbedDim ?? d;
    const gen = { generator: o.generator };
    const block = (dim: number, heads: number) =>
      new Block(dim, heads, { mlpRatio: o.mlpRatio ?? 4, eps: 1e-6, ...gen });
    const positions = (name: string, dim: number) =>
      o.positions === "sinusoidal"
        ? this.registerBuffer(
            name,
            tidy(() => sinusoidalEncoding2d(this.grid, dim, { clsToken: true }).reshape(1, n + 1, dim)),
          )
        : this.registerParameter(name, init.truncNormal(zeros([1, n + 1, dim]), 0, 0.02, -2, 2, gen));

    this.patchProj = new Conv2d(this.inChannels, d, p, { stride: p, ...gen });
    this.registerModule("patch_embed", new ModuleDict({ proj: this.patchProj }));
    this.clsToken = this.registerParameter(
      "cls_token",
      init.truncNormal(zeros([1, 1, d]), 0, 0.02, -2, 2, gen),
    );
    this.posEmbed = positions("pos_embed", d);
    this.blocks = this.registerModule(
      "blocks",
      new ModuleList(Array.from({ length: o.depth }, () => block(d, o.numHeads))),
    );
    this.norm = this.registerModule("norm", new LayerNorm(d, { eps: 1e-6 }));
    this.fcMu = this.registerModule("fc_mu", new Linear(d, this.latentDim, gen));
    this.fcLogvar = this.registerModule("fc_logvar", new Linear(d, this.latentDim, gen));

    this.decoderEmbed = this.registerModule("decoder_embed", new Linear(this.latentDim, dd, gen));
    this.queryToken = this.registerParameter(
      "query_token",
      init.truncNormal(zeros([1, 1, dd]), 0, 0.02, -2, 2, gen),
    );
    this.decoderPosEmbed = positions("decoder_pos_embed", dd);
    const decHeads = o.decoderNumHeads ?? o.numHeads;
    this.decoderBlocks = this.registerModule(
      "decoder_blocks",
      new ModuleList(Array.from({ length: o.decoderDepth ?? o.depth }, () => block(dd, decHeads))),
    );
    this.decoderNorm = this.registerModule("decoder_norm", new LayerNorm(dd, { eps: 1e-6 }));
    this.decoderPred = this.registerModule("decoder_pred", new Linear(dd, p * p * this.inChannels, gen));
  }

  /** [B,C,H,W] → { mu, logvar } [B,L]. */
  encode(x: Tensor): { mu: Tensor; logvar: Tensor } {
    const [H, W] = this.imageSize;
    if (x.rank !== 4 || x.shape[1] !== this.inChannels || x.shape[2] !== H || x.shape[3] !== W) {
      throw new RangeError(`ViTVAE: expected x [B,${this.inChannels},${H},${W}], got [${x.shape.join(",")}]`);
    }
    return tidy(() => {
      const b = x.shape[0]!;
      const d = this.clsToken.shape[2]!;
      const [ph, pw] = [this.grid[0] * this.patchSize - H, this.grid[1] * this.patchSize - W];
      const img = ph || pw ? pad(x, [0, pw, 0, ph]) : x;
      const tokens = this.patchProj.forward(img).flatten(2).transpose(1, 2); // [B,N,D]
      let h = cat([this.clsToken.expand(b, 1, d), tokens], 1).add(this.posEmbed); // [B,1+N,D]
      for (const blk of this.blocks) h = blk.forward(h).output;
      h = this.norm.forward(h);
      const pooled = this.pool === "cls" ? h.select(1, 0) : h.narrow(1, 1, h.shape[1]! - 1).mean(1); // [B,D]
      return { mu: this.fcMu.forward(pooled), logvar: this.fcLogvar.forward(pooled) };
    });
  }

  /** The decoder's raw output [B,L] → [B,C,H,W] (pixels for 'mse', logits for 'bce'). */
  decodeOutput(z: Tensor): Tensor {
    if (z.rank !== 2 || z.shape[1] !== this.latentDim) {
      throw new RangeError(`ViTVAE: expected z [B,${this.latentDim}], got [${z.shape.join(",")}]`);
    }
    return tidy(() => {
      const b = z.shape[0]!;
      const n = this.grid[0] * this.grid[1];
      const dd = this.queryToken.shape[2]!;
      const latent = this.decoderEmbed.forward(z).unsqueeze(1); // [B,1,Dd]
      let h = cat([latent, this.queryToken.expand(b, n, dd)], 1).add(this.decoderPosEmbed); // [B,1+N,Dd]
      for (const blk of this.decoderBlocks) h = blk.forward(h).output;
      const patches = this.decoderPred.forward(this.decoderNorm.forward(h).narrow(1, 1, n)); // [B,N,p·p·C]
      const img = unpatchifyImage(patches, this.patchSize, this.grid, this.inChannels); // [B,C,h·p,w·p]
      return img.narrow(2, 0, this.imageSize[0]).narrow(3, 0, this.imageSize[1]);
    });
  }

  /** Images from latents [B,L] → [B,C,H,W]: the likelihood's mean (sigmoid of the logits for 'bce'). */
  decode(z: Tensor): Tensor {
    return tidy(() => {
      const out = this.decodeOutput(z);
      return this.reconstruction === "bce" ? out.sigmoid() : out;
    });
  }

  override forward(x: Tensor, opts: VaeForwardOptions = {}): VaeOutput {
    return tidy(() => {
      const { mu, logvar } = this.encode(x);
      const z =
        (opts.sample ?? this.training)
          ? reparameterize(mu, logvar, { generator: opts.generator ?? this.generator })
          : mu;
      return { output: this.decodeOutput(z), mu, logvar, z };
    });
  }

  /** The negative ELBO to minimise, with its two terms. */
  elbo(x: Tensor, opts: ElboOptions = {}): ElboOutput {
    const kind = checkReconstruction(opts.reconstruction ?? this.reconstruction);
    const beta = opts.beta ?? 1;
    return tidy(() => {
      const { output, mu, logvar } = this.forward(x, opts);
      const perPixel =
        kind === "mse"
          ? mseLoss(output, x, { reduction: "sum" })
          : binaryCrossEntropyWithLogits(output, x, { reduction: "sum" });
      const reconstruction = perPixel.div(x.shape[0]!);
      const kl = klNormal(mu, logvar);
      return { loss: reconstruction.add(kl.mul(beta)), reconstruction, kl };
    });
  }

  /** `n` images decoded from z ~ N(0, I): [n,C,H,W]. */
  sample(n: number, opts: { generator?: Generator } = {}): Tensor {
    return tidy(() =>
      this.decode(
        randn([n, this.latentDim], {
          generator: opts.generator ?? this.generator,
          backend: this.clsToken.backendName,
        }),
      ),
    );
  }

  override extraRepr(): string {
    return `image_size=(${this.imageSize.join(", ")}), patch_size=${this.patchSize}, latent_dim=${this.latentDim}`;
  }
}

function checkReconstruction(kind: string): VaeReconstruction {
  if (kind !== "mse" && kind !== "bce")
    throw new RangeError(`ViTVAE: reconstruction must be 'mse' or 'bce', got ${kind}`);
  return kind;
}
