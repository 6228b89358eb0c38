/**
 * Recurrent layers: LSTM and GRU (PyTorch's `nn.LSTM` / `nn.GRU`: same keys, gate order, defaults
 * and initialisation).
 *
 * x [T,B,in] (or [B,T,in] with batchFirst, or unbatched [T,in])
 *   → per layer and direction: input projection for all steps at once [T,B,G·H]
 *   → T steps of  gates = proj[t] + h·W_hhᵀ  → cell update → h [B,H]
 *   → output [T,B,dirs·H] (directions concatenated), next layer's input (dropout in between)
 *   → hN (and LSTM's cN) [numLayers·dirs, B, H]
 */
import {
  add,
  cat,
  chunk,
  dropout,
  empty,
  type Generator,
  isFloating,
  linear,
  mul,
  sigmoid,
  split,
  stack,
  sub,
  type Tensor,
  tanh,
  tidy,
  zeros,
} from "@tessera/core";
import * as init from "./init.js";
import { formatFloat, Module } from "./module.js";

export interface RecurrentOptions {
  /** Stacked layers; layer k > 0 reads the output of layer k − 1 (default 1). */
  numLayers?: number;
  /** Learn `bias_ih_l{k}` and `bias_hh_l{k}` (default true). */
  bias?: boolean;
  /** Input and output are [B,T,·] instead of [T,B,·]; hN/cN stay [numLayers·dirs, B, H] (default false). */
  batchFirst?: boolean;
  /** Dropout on the output of every layer but the last, in training mode only (default 0). */
  dropout?: number;
  /** Run a second pass from the last step to the first and concatenate both (default false). */
  bidirectional?: boolean;
  /** The stream for the initial weights and the dropout masks (default: core's global generator). */
  generator?: Generator;
}

/** LSTM's result: the last layer's hidden state at every step and the final states of every layer. */
export interface LstmOutput {
  /** [T,B,dirs·H] ([B,T,dirs·H] with batchFirst, [T,dirs·H] unbatched). */
  output: Tensor;
  /** Final hidden state per layer and direction: [numLayers·dirs, B, H] ([numLayers·dirs, H] unbatched). */
  hN: Tensor;
  /** Final cell state, shaped like `hN`. */
  cN: Tensor;
}

/** GRU's result: the last layer's hidden state at every step and the final state of every layer. */
export interface GruOutput {
  /** [T,B,dirs·H] ([B,T,dirs·H] with batchFirst, [T,dirs·H] unbatched). */
  output: Tensor;
  /** Final hidden state per layer and direction: [numLayers·dirs, B, H] ([numLayers·dirs, H] unbatched). */
  hN: Tensor;
}

interface DirectionWeights {
  wIh: Tensor;
  wHh: Tensor;
  bIh: Tensor | null;
  bHh: Tensor | null;
}

/** One step of a cell: the precomputed input projection `xp` [B,G·H] and the states before → after. */
type CellStep = (xp: Tensor, state: Tensor[], w: DirectionWeights) => Tensor[];

function positiveInt(owner: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new RangeError(`${owner}: ${name} must be a positive integer, got ${v}`);
}

/**
 * The machinery LSTM and GRU share: parameter layout, input checks, the layer/direction loop and
 * the time loop. Subclasses supply the gate count, the number of states and the cell step.
 */
abstract class RecurrentBase extends Module {
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  private readonly generator: Generator | undefined;
  /** Weights by layer, then direction (forward, reverse). */
  protected readonly weights: DirectionWeights[][] = [];

  constructor(
    readonly inputSize: number,
    readonly hiddenSize: number,
    gates: number,
    opts: RecurrentOptions,
  ) {
    super();
    const name = this.typeName;
    positiveInt(name, "inputSize", inputSize);
    positiveInt(name, "hiddenSize", hiddenSize);
    this.numLayers = opts.numLayers ?? 1;
    positiveInt(name, "numLayers", this.numLayers);
    this.bias = opts.bias ?? true;
    this.batchFirst = opts.batchFirst ?? false;
    this.dropout = opts.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1))
      throw new RangeError(`${name}: dropout must be in [0, 1], got ${this.dropout}`);
    this.bidirectional = opts.bidirectional ?? false;
    this.generator = opts.generator;
    const dirs = this.bidirectional ? 2 : 1;
    const gh = gates * hiddenSize;
    // Registration order is PyTorch's _flat_weights_names, so stateDict() lists keys as torch does.
    for (let layer = 0; layer < this.numLayers; layer++) {
      const perDir: DirectionWeights[] = [];
      const inF = layer === 0 ? inputSize : hiddenSize * dirs;
      for (let d = 0; d < dirs; d++) {
        const sfx = `_l${layer}${d === 1 ? "_reverse" : ""}`;
        perDir.push({
          wIh: this.registerParameter(`weight_ih${sfx}`, empty([gh, inF])),
          wHh: this.registerParameter(`weight_hh${sfx}`, empty([gh, hiddenSize])),
          bIh: this.registerParameter(`bias_ih${sfx}`, this.bias ? empty([gh]) : null),
          bHh: this.registerParameter(`bias_hh${sfx}`, this.bias ? empty([gh]) : null),
        });
      }
      this.weights.push(perDir);
    }
    this.resetParameters(opts);
  }

  get numDirections(): number {
    return this.bidirectional ? 2 : 1;
  }

  /** PyTorch's default: every weight and bias from U(−1/√hiddenSize, 1/√hiddenSize). */
  resetParameters(opts: init.InitOptions = {}): void {
    const bound = 1 / Math.sqrt(this.hiddenSize);
    for (const p of this.parameters()) init.uniform(p, -bound, bound, opts);
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.numLayers !== 1) s += `, num_layers=${this.numLayers}`;
    if (!this.bias) s += ", bias=False";
    if (this.batchFirst) s += ", batch_first=True";
    if (this.dropout !== 0) s += `, dropout=${formatFloat(this.dropout)}`;
    if (this.bidirectional) s += ", bidirectional=True";
    return s;
  }

  /**
   * Checks `x` and the initial states and runs every layer. `states` holds one tensor per state
   * kind (h, and c for LSTM), each [numLayers·dirs, B, H] ([numLayers·dirs, H] unbatched) or
   * undefined for zeros. Returns the output and the final states in the caller's layout.
   */
  protected run(
    x: Tensor,
    states: readonly (Tensor | undefined)[],
    stateNames: readonly string[],
    step: CellStep,
  ): { output: Tensor; finals: Tensor[] } {
    const name = this.typeName;
    if (x.rank !== 2 && x.rank !== 3) {
      throw new RangeError(
        `${name}: input must be [T, B, ${this.inputSize}]${this.batchFirst ? " (batchFirst: [B, T, ·])" : ""} or unbatched [T, ${this.inputSize}], got [${x.shape.join(", ")}]`,
      );
    }
    if (!isFloating(x.dtype)) throw new TypeError(`${name}: input must be floating point, got ${x.dtype}`);
    if (x.shape[x.rank - 1] !== this.inputSize) {
      throw new RangeError(
        `${name}: input has ${x.shape[x.rank - 1]} features in its last dim but inputSize is ${this.inputSize} (input [${x.shape.join(", ")}])`,
      );
    }
    const batched = x.rank === 3;
    // Unbatched input is [T, in] whatever batchFirst says (PyTorch's rule).
    const timeDim = batched && this.batchFirst ? 1 : 0;
    const T = x.shape[timeDim]!;
    const B = batched ? x.shape[1 - timeDim]! : 1;
    if (T === 0) throw new RangeError(`${name}: the sequence is empty (input [${x.shape.join(", ")}])`);
    const H = this.hiddenSize;
    const dirs = this.numDirections;
    const slots = this.numLayers * dirs;
    const want = batched ? [slots, B, H] : [slots, H];
    for (const [i, s] of states.entries()) {
      if (s && (s.rank !== want.length || s.shape.some((d, k) => d !== want[k]))) {
        throw new RangeError(
          `${name}: ${stateNames[i]} must be [${want.join(", ")}] (numLayers·directions, ${batched ? "batch, " : ""}hiddenSize), got [${s.shape.join(", ")}]`,
        );
      }
    }

    return tidy(() => {
      let input = batched ? x : x.unsqueeze(1); // [T,B,in] or [B,T,in]
      const given = states.map((s) => (s ? (batched ? s : s.unsqueeze(1)) : null));
      const zero = states.some((s) => !s) ? zeros([B, H], { dtype: x.dtype, backend: x.backendName }) : null;
      const finals: Tensor[][] = states.map(() => []);
      for (let layer = 0; layer < this.numLayers; layer++) {
        if (layer > 0 && this.dropout > 0 && this.training) {
          input = dropout(input, this.dropout, true, { generator: this.generator });
        }
        const outs: Tensor[] = [];
        for (let d = 0; d < dirs; d++) {
          const w = this.weights[layer]![d]!;
          const slot = layer * dirs + d;
          const start = given.map((s) => (s ? s.select(0, slot) : zero!));
          const r = this.direction(input, timeDim, start, w, d === 1, step);
          outs.push(r.output);
          for (const [i, f] of r.finals.entries()) finals[i]!.push(f);
        }
        input = dirs === 1 ? outs[0]! : cat(outs, -1);
      }
      const output = batched ? input : input.squeeze(1);
      const stacked = finals.map((fs) => {
        const s = stack(fs, 0);
        return batched ? s : s.squeeze(1);
      });
      return { output, finals: stacked };
    });
  }

  /** One layer in one direction: [T,B,in] (time on `timeDim`) → [T,B,H] and the final states. */
  private direction(
    input: Tensor,
    timeDim: number,
    start: Tensor[],
    w: DirectionWeights,
    reverse: boolean,
    step: CellStep,
  ): { output: Tensor; finals: Tensor[] } {
    return tidy(() => {
      const T = input.shape[timeDim]!;
      // One matmul for every step's input projection; the subclass decides which biases it folds in.
      const proj = linear(input, w.wIh, this.projectionBias(w));
      // split (one node, backward = one cat) rather than T selects (each backward pads to [T,…]).
      const steps = split(proj, 1, timeDim);
      const hs: Tensor[] = new Array(T);
      let state = start;
      for (let s = 0; s < T; s++) {
        const t = reverse ? T - 1 - s : s;
        const prev = state;
        state = tidy(() => step(steps[t]!.squeeze(timeDim), prev, w));
        hs[t] = state[0]!;
        // The previous cell state is no longer needed here (autograd holds its own reference).
        if (s > 0) for (let i = 1; i < prev.length; i++) prev[i]!.dispose();
      }
      return { output: stack(hs, timeDim), finals: state };
    });
  }

  /** The bias added to the input projection (LSTM folds both biases in; GRU only b_ih). */
  protected abstract projectionBias(w: DirectionWeights): Tensor | null;
}

/**
 * Long short-term memory (PyTorch's `nn.LSTM`). Gates i, f, g, o are stacked in that order in
 * `weight_ih_l{k}` [4H, in], `weight_hh_l{k}` [4H, H] and the two biases (both added):
 * `c' = σ(f)⊙c + σ(i)⊙tanh(g)`, `h' = σ(o)⊙tanh(c')`. The reverse direction's keys end in
 * `_reverse`. `forward(x, [h0, c0]?)` returns `{ output, hN, cN }`.
 *
 * @example
 * const lstm = new LSTM(16, 32, { numLayers: 2, batchFirst: true });
 * const { output, hN, cN } = lstm.forward(randn([8, 20, 16])); // [8,20,32], [2,8,32], [2,8,32]
 * lstm.forward(randn([8, 1, 16]), [hN, cN]); // continue from the final states
 */
export class LSTM extends RecurrentBase {
  constructor(inputSize: number, hiddenSize: number, opts: RecurrentOptions = {}) {
    super(inputSize, hiddenSize, 4, opts);
  }

  protected projectionBias(w: DirectionWeights): Tensor | null {
    return w.bIh && w.bHh ? add(w.bIh, w.bHh) : null;
  }

  /** `x` [T,B,in] / [B,T,in] (batchFirst) / [T,in]; `hx` = [h0, c0], each [numLayers·dirs, B, H] (zeros when omitted). */
  override forward(x: Tensor, hx?: readonly [Tensor, Tensor]): LstmOutput {
    if (hx !== undefined && (!Array.isArray(hx) || hx.length !== 2)) {
      throw new TypeError("LSTM: hx must be [h0, c0]");
    }
    const { output, finals } = this.run(
      x,
      hx ? [hx[0], hx[1]] : [undefined, undefined],
      ["h0", "c0"],
      lstmStep,
    );
    return { output, hN: finals[0]!, cN: finals[1]! };
  }
}

const lstmStep: CellStep = (xp, [h, c], w) => {
  const [i, f, g, o] = chunk(add(xp, linear(h!, w.wHh)), 4, -1) as [Tensor, Tensor, Tensor, Tensor];
  const cNext = add(mul(sigmoid(f), c!), mul(sigmoid(i), tanh(g)));
  return [mul(sigmoid(o), tanh(cNext)), cNext];
};

/**
 * Gated recurrent unit (PyTorch's `nn.GRU`). Gates r, z, n are stacked in that order in
 * `weight_ih_l{k}` [3H, in], `weight_hh_l{k}` [3H, H] and the biases;
 * `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))` (b_hn inside the reset product) and
 * `h' = (1 − z) ⊙ n + z ⊙ h`. `forward(x, h0?)` returns `{ output, hN }`.
 *
 * @example
 * const gru = new GRU(16, 32, { bidirectional: true });
 * const { output, hN } = gru.forward(randn([20, 8, 16])); // [20,8,64], [2,8,32]
 */
export class GRU extends RecurrentBase {
  constructor(inputSize: number, hiddenSize: number, opts: RecurrentOptions = {}) {
    super(inputSize, hiddenSize, 3, opts);
  }

  protected projectionBias(w: DirectionWeights): Tensor | null {
    return w.bIh;
  }

  /** `x` [T,B,in] / [B,T,in] (batchFirst) / [T,in]; `h0` [numLayers·dirs, B, H] (zeros when omitted). */
  override forward(x: Tensor, h0?: Tensor): GruOutput {
    const { output, finals } = this.run(x, [h0], ["h0"], gruStep);
    return { output, hN: finals[0]! };
  }
}

const gruStep: CellStep = (xp, [h], w) => {
  const [xr, xz, xn] = chunk(xp, 3, -1) as [Tensor, Tensor, Tensor];
  const [hr, hz, hn] = chunk(linear(h!, w.wHh, w.bHh), 3, -1) as [Tensor, Tensor, Tensor];
  const r = sigmoid(add(xr, hr));
  const z = sigmoid(add(xz, hz));
  const n = tanh(add(xn, mul(r, hn)));
  // (1 − z)⊙n + z⊙h, written with one multiply.
  return [add(n, mul(z, sub(h!, n)))];
};
