/**
 * MultiheadAttention (PyTorch's `nn.MultiheadAttention`, same keys, init and mask conventions).
 *
 * query [B,L,E], key [B,S,kdim], value [B,S,vdim] (batchFirst; [L,B,E] … otherwise)
 *   → q [B,H,L,hd], k [B,H,S,hd], v [B,H,S,hd]   (in-projections, heads split)
 *   → softmax(q·kᵀ/√hd + masks) [B,H,L,S] → ·v [B,H,L,hd]
 *   → [B,L,E] → out_proj → output [B,L,E]
 */
import {
  additiveAttentionMask,
  causalAttentionMask,
  dropout,
  empty,
  fmtShape,
  type Generator,
  isFloating,
  linear,
  logicalNot,
  matmul,
  mean,
  mul,
  scaledDotProductAttention,
  softmax,
  type Tensor,
  tidy,
} from "@tessera/core";
import * as init from "./init.js";
import { Linear } from "./linear.js";
import { Module } from "./module.js";

export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights in training mode (default 0). */
  dropout?: number;
  /** Biases on the input and output projections (default true). */
  bias?: boolean;
  /** Feature size of keys (default embedDim); any other value gives separate q/k/v weights. */
  kdim?: number;
  /** Feature size of values (default embedDim). */
  vdim?: number;
  /** Inputs are [B, L, E] (true) or [L, B, E] (false, the default, as in PyTorch). */
  batchFirst?: boolean;
  /** The stream for initialisation and attention dropout (default: core's global generator). */
  generator?: Generator;
}

export interface MultiheadAttentionForwardOptions {
  /** [B, S] (or [S] unbatched); bool: true = ignore that key; float: added to the logits. */
  keyPaddingMask?: Tensor | null;
  /**
   * [L, S] or [B·numHeads, L, S]. bool: true = NOT allowed (PyTorch's MHA convention, the opposite
   * of `scaledDotProductAttention`'s); float: added to the logits.
   */
  attnMask?: Tensor | null;
  /** Return the attention weights (default true). */
  needWeights?: boolean;
  /** Average the weights over heads, [B, L, S] (default), or return [B, numHeads, L, S]. */
  averageAttnWeights?: boolean;
  /** Query i attends only to keys j ≤ i (combined with any attnMask). */
  isCausal?: boolean;
}

export interface MultiheadAttentionOutput {
  /** [B, L, E] (batchFirst), [L, B, E] otherwise, [L, E] unbatched. */
  output: Tensor;
  /** Post-softmax (and post-dropout) weights, always batch-first; null unless `needWeights`. */
  weights: Tensor | null;
}

/**
 * Multi-head attention with PyTorch's parameters: a packed `in_proj_weight` [3E, E] when
 * kdim = vdim = embedDim (else `q_proj_weight` [E, E], `k_proj_weight` [E, kdim],
 * `v_proj_weight` [E, vdim]), `in_proj_bias` [3E] and the `out_proj` Linear. The in-projection
 * weights are Xavier-uniform, `in_proj_bias` and `out_proj.bias` zero, `out_proj.weight` Linear's
 * default. Attention runs on core's `scaledDotProductAttention` (the backend's fused kernel where
 * it has one) except with dropout in training, which takes the explicit softmax path.
 *
 * @example
 * const mha = new MultiheadAttention(64, 8, { batchFirst: true });
 * const x = randn([2, 10, 64]);
 * const { output, weights } = mha.forward(x, x, x); // [2, 10, 64], weights [2, 10, 10]
 */
export class MultiheadAttention extends Module {
  readonly kdim: number;
  readonly vdim: number;
  readonly headDim: number;
  readonly dropoutP: number;
  readonly batchFirst: boolean;
  /** True when q, k and v share the packed `in_proj_weight`. */
  readonly qkvSameEmbedDim: boolean;
  readonly inProjWeight: Tensor | null;
  readonly qProjWeight: Tensor | null;
  readonly kProjWeight: Tensor | null;
  readonly vProjWeight: Tensor | null;
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;
  private readonly generator: Generator | undefined;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    opts: MultiheadAttentionOptions = {},
  ) {
    super();
    const name = "MultiheadAttention";
    const posInt = (k: string, v: number) => {
      if (!Number.isInteger(v) || v <= 0)
        throw new RangeError(`${name}: ${k} must be a positive integer, got ${v}`);
    };
    posInt("embedDim", embedDim);
    posInt("numHeads", numHeads);
    if (embedDim % numHeads !== 0) {
      throw new RangeError(`${name}: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    }
    this.kdim = opts.kdim ?? embedDim;
    this.vdim = opts.vdim ?? embedDim;
    posInt("kdim", this.kdim);
    posInt("vdim", this.vdim);
    this.dropoutP = opts.dropout ?? 0;
    if (!(this.dropoutP >= 0 && this.dropoutP <= 1))
      throw new RangeError(`${name}: dropout must be in [0, 1], got ${this.dropoutP}`);
    this.batchFirst = opts.batchFirst ?? false;
    this.headDim = embedDim / numHeads;
    this.generator = opts.generator;
    this.qkvSameEmbedDim = this.kdim === embedDim && this.vdim === embedDim;
    const E = embedDim;
    if (this.qkvSameEmbedDim) {
      this.inProjWeight = this.registerParameter("in_proj_weight", empty([3 * E, E]));
      this.qProjWeight = this.registerParameter("q_proj_weight", null);
      this.kProjWeight = this.registerParameter("k_proj_weight", null);
      this.vProjWeight = this.registerParameter("v_proj_weight", null);
    } else {
      this.qProjWeight = this.registerParameter("q_proj_weight", empty([E, E]));
      this.kProjWeight = this.registerParameter("k_proj_weight", empty([E, this.kdim]));
      this.vProjWeight = this.registerParameter("v_proj_weight", empty([E, this.vdim]));
      this.inProjWeight = this.registerParameter("in_proj_weight", null);
    }
    const bias = opts.bias ?? true;
    this.inProjBias = this.registerParameter("in_proj_bias", bias ? empty([3 * E]) : null);
    this.outProj = this.registerModule("out_proj", new Linear(E, E, { bias, generator: opts.generator }));
    this.resetParameters({ generator: opts.generator, outProj: false });
  }

  /**
   * PyTorch's `_reset_parameters`: Xavier-uniform in-projection weights, zero `in_proj_bias` and
   * `out_proj.bias`. `outProj: true` (the default) also re-initialises `out_proj.weight` first.
   */
  resetParameters(opts: init.InitOptions & { outProj?: boolean } = {}): void {
    if (opts.outProj ?? true) this.outProj.resetParameters(opts);
    for (const w of [this.inProjWeight, this.qProjWeight, this.kProjWeight, this.vProjWeight]) {
      if (w) init.xavierUniform(w, 1, opts);
    }
    if (this.inProjBias) {
      init.zeros(this.inProjBias);
      if (this.outProj.bias) init.zeros(this.outProj.bias);
    }
  }

  override forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    opts: MultiheadAttentionForwardOptions = {},
  ): MultiheadAttentionOutput {
    const name = "MultiheadAttention.forward";
    const E = this.embedDim;
    const H = this.numHeads;
    const shapes = `(query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)}, value ${fmtShape(value.shape)})`;
    const batched = query.rank === 3;
    if (!((query.rank === 3 || query.rank === 2) && key.rank === query.rank && value.rank === query.rank)) {
      throw new RangeError(`${name}: query, key and value must all be 3-D (batched) or all 2-D ${shapes}`);
    }
    for (const [arg, t, d] of [
      ["query", query, E],
      ["key", key, this.kdim],
      ["value", value, this.vdim],
    ] as const) {
      if (t.shape[t.rank - 1] !== d)
        throw new RangeError(`${name}: ${arg} must have ${d} features in its last dim ${shapes}`);
    }
    // Work batch-first: [B, L, E]. The transposes are views.
    const bf = (t: Tensor) => (!batched ? t.unsqueeze(0) : this.batchFirst ? t : t.transpose(0, 1));
    const needWeights = opts.needWeights ?? true;
    const average = opts.averageAttnWeights ?? true;

    const result = tidy(() => {
      const q0 = bf(query);
      const k0 = bf(key);
      const v0 = bf(value);
      const [B, L] = q0.shape as [number, number];
      const S = k0.shape[1]!;
      if (k0.shape[0] !== B || v0.shape[0] !== B || v0.shape[1] !== S) {
        throw new RangeError(
          `${name}: query, key and value must share the batch size and key and value the length ${shapes}`,
        );
      }
      const masks = this.masks(opts, batched, B, L, S, query);

      const [q, k, v] = this.project(query, key, value, q0, k0, v0);
      // [B, N, E] → [B, H, N, hd]
      const heads = (t: Tensor, n: number) => t.reshape([B, n, H, this.headDim]).transpose(1, 2);
      const qh = heads(q, L);
      const kh = heads(k, S);
      const vh = heads(v, S);

      let out: Tensor;
      let weights: Tensor | null = null;
      if (this.training && this.dropoutP > 0) {
        let logits = mul(matmul(qh, kh.mT), 1 / Math.sqrt(this.headDim));
        const add = additiveAttentionMask(masks.attnMask, masks.keyPaddingMask, 2, q.dtype, q.backendName);
        if (add) logits = logits.add(add);
        if (opts.isCausal) logits = logits.add(causalAttentionMask(L, S, q.dtype, q.backendName));
        weights = dropout(softmax(logits, -1), this.dropoutP, true, { generator: this.generator });
        out = matmul(weights, vh);
      } else {
        const sdpaOpts = {
          attnMask: masks.attnMask,
          keyPaddingMask: masks.keyPaddingMask,
          isCausal: opts.isCausal ?? false,
        };
        if (needWeights) {
          const r = scaledDotProductAttention(qh, kh, vh, { ...sdpaOpts, returnWeights: true });
          out = r.output;
          weights = r.weights;
        } else out = scaledDotProductAttention(qh, kh, vh, sdpaOpts);
      }
      // [B, H, L, hd] → [B, L, E]
      let y = this.outProj.forward(out.transpose(1, 2).reshape([B, L, E]));
      if (!batched) y = y.squeeze(0);
      else if (!this.batchFirst) y = y.transpose(0, 1);
      let w: Tensor | null = null;
      if (needWeights && weights) {
        w = average ? mean(weights, 1) : weights;
        if (!batched) w = w.squeeze(0);
      }
      return { output: y, weights: w };
    });
    return result;
  }

  /** The q, k, v projections [B, N, E]; one matmul for self-attention with the packed weight. */
  private project(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    q0: Tensor,
    k0: Tensor,
    v0: Tensor,
  ): [Tensor, Tensor, Tensor] {
    const E = this.embedDim;
    const b = this.inProjBias;
    const bias = (i: number) => (b ? b.narrow(0, i * E, E) : null);
    if (this.inProjWeight) {
      const w = this.inProjWeight;
      if (query === key && key === value) {
        const qkv = linear(q0, w, b); // [B, L, 3E]
        return [qkv.narrow(2, 0, E), qkv.narrow(2, E, E), qkv.narrow(2, 2 * E, E)];
      }
      const wi = (i: number) => w.narrow(0, i * E, E);
      return [linear(q0, wi(0), bias(0)), linear(k0, wi(1), bias(1)), linear(v0, wi(2), bias(2))];
    }
    return [
      linear(q0, this.qProjWeight!, bias(0)),
      linear(k0, this.kProjWeight!, bias(1)),
      linear(v0, this.vProjWeight!, bias(2)),
    ];
  }

  /**
   * Validates the masks and puts them in the attention op's form: bool attnMask flipped to
   * true = attend, a 3-D one viewed as [B, H, L, S], a float key padding mask folded into a float
   * attnMask (the op takes bool padding masks only).
   */
  private masks(
    opts: MultiheadAttentionForwardOptions,
    batched: boolean,
    B: number,
    L: number,
    S: number,
    query: Tensor,
  ): { attnMask: Tensor | null; keyPaddingMask: Tensor | null } {
    const name = "MultiheadAttention.forward";
    const H = this.numHeads;
    const dtypeOk = (m: Tensor) => m.dtype === "bool" || m.dtype === query.dtype;
    let attnMask = opts.attnMask ?? null;
    let kpm = opts.keyPaddingMask ?? null;
    if (attnMask) {
      if (!dtypeOk(attnMask))
        throw new TypeError(
          `${name}: attnMask must be bool or ${query.dtype} like query, got ${attnMask.dtype}`,
        );
      const lead = batched ? B * H : H;
      if (attnMask.rank === 2) {
        if (attnMask.shape[0] !== L || attnMask.shape[1] !== S)
          throw new RangeError(
            `${name}: the 2-D attnMask is ${fmtShape(attnMask.shape)} but should be ${fmtShape([L, S])} (query length, key length)`,
          );
      } else if (attnMask.rank === 3) {
        if (attnMask.shape[0] !== lead || attnMask.shape[1] !== L || attnMask.shape[2] !== S)
          throw new RangeError(
            `${name}: the 3-D attnMask is ${fmtShape(attnMask.shape)} but should be ${fmtShape([lead, L, S])} (${batched ? "batch·numHeads" : "numHeads"}, query length, key length)`,
          );
        attnMask = attnMask.reshape([B, H, L, S]);
      } else {
        throw new RangeError(`${name}: attnMask must be 2-D or 3-D, got ${fmtShape(attnMask.shape)}`);
      }
      if (attnMask.dtype === "bool") attnMask = logicalNot(attnMask);
    }
    if (kpm) {
      if (!dtypeOk(kpm))
        throw new TypeError(
          `${name}: keyPaddingMask must be bool or ${query.dtype} like query, got ${kpm.dtype}`,
        );
      const want = batched ? [B, S] : [S];
      if (kpm.rank !== want.length || kpm.shape.some((d, i) => d !== want[i]))
        throw new RangeError(
          `${name}: keyPaddingMask is ${fmtShape(kpm.shape)} but should be ${fmtShape(want)} (${batched ? "batch, " : ""}key length)`,
        );
      if (!batched) kpm = kpm.unsqueeze(0);
      if (isFloating(kpm.dtype)) {
        const kf = kpm.reshape([B, 1, 1, S]);
        const am = attnMask
          ? (additiveAttentionMask(attnMask, null, 2, query.dtype, query.backendName) as Tensor)
          : null;
        attnMask = am ? am.add(kf) : kf;
        kpm = null;
      }
    }
    return { attnMask, keyPaddingMask: kpm };
  }
}
