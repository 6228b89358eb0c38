/**
 * Dense (per-pixel) heads on ViT patch tokens, and the MiniViT models that use them: depth
 * (reference_models.py `MiniViTDepth`, keys `depth_head.0/2/4`) and segmentation.
 *
 *   x [B,C,H,W] → MiniViT backbone → tokens [B,N+1,D] → patch tokens [B,N,D] (drop cls)
 *     → transpose(1,2).reshape [B,D,h,w]
 *     → ConvTranspose2d(D,D/2,2,2) → ReLU [B,D/2,2h,2w] → ConvTranspose2d(D/2,D/4,2,2) → ReLU [B,D/4,4h,4w]
 *     → Conv2d(D/4,K,1) [B,K,4h,4w] → bilinear resize (align_corners false) [B,K,H,W]
 *   depth: K = 1, L1 or scale-invariant log loss; segmentation: K classes, cross entropy over dim 1.
 */
import {
  abs,
  add,
  crossEntropy,
  exp,
  type Generator,
  interpolate,
  l1Loss,
  log1p,
  neg,
  relu,
  type Tensor,
  tidy,
} from "@tessera/core";
import { Conv2d, ConvTranspose2d, Module, ReLU, scaleInvariantLogLoss } from "@tessera/nn";
import { MiniViTBackbone, type MiniViTForwardOptions, type MiniViTOptions } from "./mini-vit.js";

export interface DenseHeadOptions {
  /** Output channels K per pixel (1 for depth, the number of classes for segmentation). */
  outChannels: number;
  generator?: Generator;
}

/**
 * Turns ViT patch tokens [B, N, D] on an h×w grid into a [B, K, H, W] map: two stride-2
 * ConvTranspose2d (×4 upsampling, widths D/2 and D/4, ReLU after each), a 1×1 Conv2d to K
 * channels, then a bilinear resize to the image size. Keys `0`, `2`, `4` (as the seed's
 * `nn.Sequential`; `1` and `3` are the ReLUs).
 *
 * @example
 * const head = new DenseHead(64, { outChannels: 1 });
 * head.forward(randn([2, 16, 64]), [4, 4], [32, 32]); // [2, 1, 32, 32]
 */
export class DenseHead extends Module {
  readonly up1: ConvTranspose2d;
  readonly up2: ConvTranspose2d;
  readonly out: Conv2d;
  readonly outChannels: number;

  constructor(
    readonly dim: number,
    opts: DenseHeadOptions,
  ) {
    super();
    const k = opts.outChannels;
    const [d2, d4] = [Math.floor(dim / 2), Math.floor(dim / 4)];
    if (!Number.isInteger(dim) || d4 < 1)
      throw new RangeError(`${this.typeName}: dim must be an integer >= 4, got ${dim}`);
    if (!Number.isInteger(k) || k < 1)
      throw new RangeError(`${this.typeName}: outChannels must be a positive integer, got ${k}`);
    this.outChannels = k;
    const generator = opts.generator;
    this.up1 = this.registerModule("0", new ConvTranspose2d(dim, d2, 2, { stride: 2, generator }));
    this.registerModule("1", new ReLU());
    this.up2 = this.registerModule("2", new ConvTranspose2d(d2, d4, 2, { stride: 2, generator }));
    this.registerModule("3", new ReLU());
    this.out = this.registerModule("4", new Conv2d(d4, k, 1, { generator }));
  }

  /** Patch tokens [B, h·w, D] (no class token) → [B, K, outSize]. */
  override forward(
    tokens: Tensor,
    grid: readonly [number, number],
    outSize: readonly [number, number],
  ): Tensor {
    const [h, w] = grid;
    if (tokens.rank !== 3 || tokens.shape[1] !== h * w || tokens.shape[2] !== this.dim) {
      throw new RangeError(
        `${this.typeName}: expected patch tokens [B,${h * w},${this.dim}] for a ${h}×${w} grid, got [${tokens.shape.join(",")}]`,
      );
    }
    const b = tokens.shape[0]!;
    return tidy(() => {
      const f = tokens.transpose(1, 2).reshape(b, this.dim, h, w); // [B,D,h,w] (transpose first, as the seed)
      const u = relu(this.up2.forward(relu(this.up1.forward(f)))); // [B,D/4,4h,4w]
      const y = this.out.forward(u); // [B,K,4h,4w]
      return interpolate(y, { size: [outSize[0], outSize[1]], mode: "bilinear", alignCorners: false }); // [B,K,H,W]
    });
  }
}

/**
 * `DenseHead` with one output channel: a depth map [B, 1, H, W] from patch tokens.
 *
 * @example
 * new DepthHead(64).forward(randn([2, 16, 64]), [4, 4], [32, 32]); // [2, 1, 32, 32]
 */
export class DepthHead extends DenseHead {
  constructor(dim: number, opts: { generator?: Generator } = {}) {
    super(dim, { outChannels: 1, generator: opts.generator });
  }
}

/**
 * `DenseHead` with one output channel per class: per-pixel logits [B, K, H, W] from patch tokens.
 *
 * @example
 * new SegmentationHead(64, 5).forward(randn([2, 16, 64]), [4, 4], [32, 32]); // [2, 5, 32, 32]
 */
export class SegmentationHead extends DenseHead {
  constructor(dim: number, numClasses: number, opts: { generator?: Generator } = {}) {
    super(dim, { outChannels: numClasses, generator: opts.generator });
  }
}

export type DepthLossKind = "l1" | "scale-invariant";

export interface MiniViTDepthOptions extends Omit<MiniViTOptions, "numClasses"> {
  /** Training loss `loss()` computes: 'l1' (the seed's, default) or 'scale-invariant' (Eigen et al., nn's `scaleInvariantLogLoss`). */
  loss?: DepthLossKind;
  /** λ of the scale-invariant loss (default 0.5). */
  lambda?: number;
  /**
   * Applied to the head's output: 'none' (the seed's raw values) or 'softplus' (positive depths,
   * which a log loss needs). Default 'softplus' with the scale-invariant loss, else 'none'.
   */
  outputActivation?: "none" | "softplus";
}

export interface DenseOutput {
  /** [B, K, H, W]: depth (K = 1) or per-pixel class logits. */
  output: Tensor;
  /** [B, heads, N+1, N+1] per requested encoder layer. */
  attention: Tensor[];
}

/** log(1 + eˣ), stable for large |x|. */
function softplus(x: Tensor): Tensor {
  return add(log1p(exp(neg(abs(x)))), relu(x));
}

/**
 * Monocular depth from a MiniViT (the seed's `MiniViTDepth`): the backbone without `mlp_head`,
 * then `depth_head` (a `DepthHead`). PyTorch keys: the backbone's and `depth_head.{0,2,4}.*`.
 *
 * @example
 * const model = new MiniViTDepth({ imgSize: 32, patchSize: 8, dim: 64, heads: 4, depth: 2 });
 * const pred = model.forward(randn([2, 3, 32, 32])); // [2, 1, 32, 32]
 * const loss = model.loss(pred, rand([2, 1, 32, 32])); // L1, as the seed trains it
 */
export class MiniViTDepth extends MiniViTBackbone {
  readonly depthHead: DepthHead;
  readonly lossKind: DepthLossKind;
  readonly lambda: number;
  readonly outputActivation: "none" | "softplus";

  constructor(opts: MiniViTDepthOptions = {}) {
    super(opts, "MiniViTDepth");
    const kind = opts.loss ?? "l1";
    if (kind !== "l1" && kind !== "scale-invariant")
      throw new RangeError(
        `MiniViTDepth: loss must be 'l1' or 'scale-invariant', got ${JSON.stringify(kind)}`,
      );
    this.lossKind = kind;
    this.lambda = opts.lambda ?? 0.5;
    this.outputActivation = opts.outputActivation ?? (kind === "scale-invariant" ? "softplus" : "none");
    this.depthHead = this.registerModule(
      "depth_head",
      new DepthHead(this.config.dim, { generator: opts.generator }),
    );
  }

  /** Depth [B, 1, H, W] for images [B, C, H, W]. */
  override forward(x: Tensor): Tensor;
  /** With `returnAttention`: the depth map and the chosen layers' attention maps. */
  override forward(
    x: Tensor,
    opts: MiniViTForwardOptions & { returnAttention: true | readonly number[] },
  ): DenseOutput;
  override forward(x: Tensor, opts?: MiniViTForwardOptions): Tensor | DenseOutput;
  override forward(x: Tensor, opts: MiniViTForwardOptions = {}): Tensor | DenseOutput {
    return tidy(() => {
      const f = this.forwardFeatures(x, opts);
      let d = this.depthHead.forward(f.tokens.slice(1, 1), this.grid, this.config.imgSize); // [B,1,H,W]
      if (this.outputActivation === "softplus") d = softplus(d);
      return opts.returnAttention ? { output: d, attention: f.attention } : d;
    });
  }

  /** The configured loss of a prediction [B,1,H,W] against target depths (mask: bool, true = valid; scale-invariant only). */
  loss(pred: Tensor, target: Tensor, mask?: Tensor | null): Tensor {
    if (this.lossKind === "l1") {
      if (mask)
        throw new RangeError("MiniViTDepth: a mask is only supported with the 'scale-invariant' loss");
      return l1Loss(pred, target);
    }
    return scaleInvariantLogLoss(pred, target, { lambda: this.lambda, mask: mask ?? null });
  }
}

export interface MiniViTSegmentationOptions extends MiniViTOptions {
  /** Class index that `loss()` ignores (default -100, PyTorch's). */
  ignoreIndex?: number;
}

/**
 * Semantic segmentation from a MiniViT: the backbone, then `seg_head` (a `SegmentationHead` with
 * `numClasses` outputs) → per-pixel logits [B, K, H, W]; trained with cross entropy over dim 1.
 *
 * @example
 * const model = new MiniViTSegmentation({ imgSize: 32, patchSize: 8, dim: 64, numClasses: 3, mlpDim: 128 });
 * const logits = model.forward(randn([2, 3, 32, 32])); // [2, 3, 32, 32]
 * const loss = model.loss(logits, randint(0, 3, [2, 32, 32])); // int32 labels [B, H, W]
 */
export class MiniViTSegmentation extends MiniViTBackbone {
  readonly segHead: SegmentationHead;
  readonly ignoreIndex: number;

  constructor(opts: MiniViTSegmentationOptions = {}) {
    super(opts, "MiniViTSegmentation");
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    this.segHead = this.registerModule(
      "seg_head",
      new SegmentationHead(this.config.dim, this.config.numClasses, { generator: opts.generator }),
    );
  }

  /** Per-pixel logits [B, K, H, W] for images [B, C, H, W]. */
  override forward(x: Tensor): Tensor;
  /** With `returnAttention`: the logits and the chosen layers' attention maps. */
  override forward(
    x: Tensor,
    opts: MiniViTForwardOptions & { returnAttention: true | readonly number[] },
  ): DenseOutput;
  override forward(x: Tensor, opts?: MiniViTForwardOptions): Tensor | DenseOutput;
  override forward(x: Tensor, opts: MiniViTForwardOptions = {}): Tensor | DenseOutput {
    return tidy(() => {
      const f = this.forwardFeatures(x, opts);
      const logits = this.segHead.forward(f.tokens.slice(1, 1), this.grid, this.config.imgSize); // [B,K,H,W]
      return opts.returnAttention ? { output: logits, attention: f.attention } : logits;
    });
  }

  /** Mean cross entropy over pixels of logits [B, K, H, W] against int32 labels [B, H, W]. */
  loss(logits: Tensor, labels: Tensor): Tensor {
    return crossEntropy(logits, labels, { ignoreIndex: this.ignoreIndex });
  }
}
