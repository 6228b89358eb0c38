/**
 * The pre-norm transformer block the timm-style models share (VisionTransformer with timm names,
 * the transformer autoencoder, ViT-VAE, the masked-patch autoencoder), with timm's keys:
 * `norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`.
 *
 *   x [B,N,D] → norm1 → qkv [B,N,3D] → q,k,v [B,H,N,D/H] → softmax(q·kᵀ/√(D/H))·v → proj → + x
 *             → norm2 → fc1 [B,N,rD] → act → fc2 [B,N,D] → + x
 */
import { checkpoint } from "@tessera/autograd";
import {
  dropout,
  type Generator,
  gelu,
  relu,
  scaledDotProductAttention,
  type Tensor,
  tidy,
} from "@tessera/core";
import { Dropout, LayerNorm, Linear, Module } from "@tessera/nn";

export interface AttentionOptions {
  /** Bias on the fused qkv projection (default true). */
  qkvBias?: boolean;
  /** Dropout on the attention weights in training (default 0). */
  attnDropout?: number;
  /** Dropout after the output projection in training (default 0). */
  projDropout?: number;
  generator?: Generator;
}

export interface AttentionForwardOptions {
  /** Also return the post-softmax weights [B, H, N, N] (they are computed explicitly, never hidden by a fused kernel). */
  returnAttention?: boolean;
  /** bool (true = may attend, core's convention) or float mask added to the logits, broadcastable to [B, H, N, N]. */
  attnMask?: Tensor | null;
  /** bool [B, N]: true = ignore that key. */
  keyPaddingMask?: Tensor | null;
}

export interface AttentionOutput {
  output: Tensor;
  /** [B, H, N, N] when asked for, else null. */
  attention: Tensor | null;
}

/**
 * Multi-head self-attention with one fused `qkv` Linear (timm's `Attention`): the 3D output
 * features are `[q | k | v]`, each split into heads contiguously.
 *
 * @example
 * const attn = new Attention(64, 4);
 * const { output, attention } = attn.forward(randn([2, 10, 64]), { returnAttention: true }); // [2,10,64], [2,4,10,10]
 */
export class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  private readonly attnDropout: number;
  private readonly projDrop: Dropout;
  private readonly generator: Generator | undefined;

  constructor(
    readonly dim: number,
    readonly numHeads: number,
    opts: AttentionOptions = {},
  ) {
    super();
    if (!Number.isInteger(numHeads) || numHeads <= 0 || dim % numHeads !== 0) {
      throw new RangeError(`Attention: dim ${dim} must be divisible by numHeads ${numHeads}`);
    }
    this.headDim = dim / numHeads;
    this.generator = opts.generator;
    this.attnDropout = opts.attnDropout ?? 0;
    this.qkv = this.registerModule(
      "qkv",
      new Linear(dim, 3 * dim, { bias: opts.qkvBias ?? true, generator: opts.generator }),
    );
    this.proj = this.registerModule("proj", new Linear(dim, dim, { generator: opts.generator }));
    this.projDrop = new Dropout(opts.projDropout ?? 0, { generator: opts.generator });
  }

  override forward(x: Tensor, opts: AttentionForwardOptions = {}): AttentionOutput {
    if (x.rank !== 3 || x.shape[2] !== this.dim) {
      throw new RangeError(`Attention: expected input [B, N, ${this.dim}], got [${x.shape.join(",")}]`);
    }
    const [b, n] = x.shape as [number, number, number];
    const h = this.numHeads;
    return tidy(() => {
      // [B,N,3D] → [3,B,H,N,hd]
      const qkv = this.qkv.forward(x).reshape(b, n, 3, h, this.headDim).permute(2, 0, 3, 1, 4);
      const [q, k, v] = [qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2)];
      const mask = { attnMask: opts.attnMask ?? null, keyPaddingMask: opts.keyPaddingMask ?? null };
      const dropoutActive = this.training && this.attnDropout > 0;
      let o: Tensor;
      let attention: Tensor | null = null;
      if (opts.returnAttention || dropoutActive) {
        const r = scaledDotProductAttention(q, k, v, { ...mask, returnWeights: true });
        attention = r.weights;
        if (dropoutActive) {
          attention = dropout(attention, this.attnDropout, true, { generator: this.generator });
          o = attention.matmul(v);
        } else o = r.output;
      } else {
        o = scaledDotProductAttention(q, k, v, mask);
      }
      // [B,H,N,hd] → [B,N,D]
      const merged = o.transpose(1, 2).reshape(b, n, this.dim);
      return {
        output: this.projDrop.forward(this.proj.forward(merged)),
        attention: opts.returnAttention ? attention : null,
      };
    });
  }

  override extraRepr(): string {
    return `dim=${this.dim}, num_heads=${this.numHeads}`;
  }
}

export interface MlpOptions {
  /** 'gelu' (exact erf, the default) or 'relu'. */
  activation?: "gelu" | "relu";
  dropout?: number;
  generator?: Generator;
}

/**
 * fc1 → activation → dropout → fc2 → dropout (timm's `Mlp`; keys `fc1`, `fc2`).
 *
 * @example
 * new Mlp(64, 256).forward(randn([2, 10, 64])); // [2, 10, 64]
 */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  private readonly act: (x: Tensor) => Tensor;
  private readonly drop: Dropout;

  constructor(dim: number, hidden: number, opts: MlpOptions = {}) {
    super();
    this.fc1 = this.registerModule("fc1", new Linear(dim, hidden, { generator: opts.generator }));
    this.fc2 = this.registerModule("fc2", new Linear(hidden, dim, { generator: opts.generator }));
    const act = opts.activation ?? "gelu";
    if (act !== "gelu" && act !== "relu")
      throw new RangeError(`Mlp: activation must be 'gelu' or 'relu', got ${act}`);
    this.act = act === "gelu" ? (t) => gelu(t) : relu;
    this.drop = new Dropout(opts.dropout ?? 0, { generator: opts.generator });
  }

  override forward(x: Tensor): Tensor {
    return tidy(() => this.drop.forward(this.fc2.forward(this.drop.forward(this.act(this.fc1.forward(x))))));
  }
}

export interface BlockOptions extends AttentionOptions {
  /** Hidden size of the MLP as a multiple of dim (default 4). */
  mlpRatio?: number;
  activation?: "gelu" | "relu";
  /** Dropout in the MLP (default 0). */
  dropout?: number;
  /** LayerNorm eps (default 1e-5; timm's ViTs use 1e-6). */
  eps?: number;
}

export interface BlockForwardOptions extends AttentionForwardOptions {
  /** Recompute this block's activations in backward instead of keeping them (saves memory). */
  checkpoint?: boolean;
}

/**
 * A pre-norm transformer block (timm's `Block`): `x + attn(norm1(x))`, then `x + mlp(norm2(x))`.
 *
 * @example
 * const block = new Block(64, 4);
 * const { output, attention } = block.forward(randn([2, 10, 64]), { returnAttention: true });
 */
export class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(
    readonly dim: number,
    readonly numHeads: number,
    opts: BlockOptions = {},
  ) {
    super();
    const eps = opts.eps ?? 1e-5;
    this.norm1 = this.registerModule("norm1", new LayerNorm(dim, { eps }));
    this.attn = this.registerModule("attn", new Attention(dim, numHeads, opts));
    this.norm2 = this.registerModule("norm2", new LayerNorm(dim, { eps }));
    const hidden = Math.round(dim * (opts.mlpRatio ?? 4));
    this.mlp = this.registerModule(
      "mlp",
      new Mlp(dim, hidden, { activation: opts.activation, dropout: opts.dropout, generator: opts.generator }),
    );
  }

  override forward(x: Tensor, opts: BlockForwardOptions = {}): AttentionOutput {
    const run = (t: Tensor): AttentionOutput =>
      tidy(() => {
        const a = this.attn.forward(this.norm1.forward(t), opts);
        const y = t.add(a.output);
        return { output: y.add(this.mlp.forward(this.norm2.forward(y))), attention: a.attention };
      });
    if (opts.checkpoint && !opts.returnAttention) {
      return { output: checkpoint((t) => run(t).output, x), attention: null };
    }
    return run(x);
  }
}
