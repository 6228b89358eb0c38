/**
 * Memory report: the budget the seed prints (model, gradients, optimizer states, activations) for
 * fp32, mixed precision and gradient checkpointing, computed for a real module.
 *
 *   model ─ parameters ─→ bytes/param × count           (exact)
 *         ─ gradients ──→ bytes/grad × trainable count  (exact)
 *         ─ optimizer ──→ states × bytes × trainable    (exact: Adam/AdamW 2, SGD momentum 1)
 *   input [1,…inputShape], [2,…inputShape] → forward + backward, peak live bytes above the
 *         model's own (core's `memory().peakBytes`) → a + b·batch → activations [batch]
 *
 * Activations are measured, not guessed: two probe steps at batch 1 and 2 run on the model's
 * backend and the peak is extrapolated linearly in the batch (every layer's memory is affine in the
 * batch). With `gradientCheckpointing` the repeated blocks (the longest ModuleList of one module
 * class, or `blocks`) run under autograd's `checkpoint` during the probes, so what is measured is
 * what checkpointing keeps: block inputs, plus one block recomputed in backward.
 */
import { checkpoint, enableGrad, noGrad } from "@tessera/autograd";
import { isFloating, memory, randn, resetPeakMemory, Tensor, tidy } from "@tessera/core";
import { type Module, ModuleList } from "@tessera/nn";
import { Block } from "./blocks.js";

/** fp32: everything float32. mixed: half activations/grads with fp32 master weights. bf16: all bf16. */
export type MemoryPrecision = "fp32" | "mixed" | "bf16";
export type MemoryOptimizer = "adamw" | "adam" | "sgd" | "sgd-momentum" | "none";

export interface EstimateMemoryOptions {
  /** One sample's input shape, without the batch (e.g. [1, 28, 28]). Not needed with `makeInput`. */
  inputShape?: readonly number[];
  /** Batch size the estimate is for (default 1). */
  batch?: number;
  /** Default 'fp32'. */
  precision?: MemoryPrecision;
  /** Recompute each block's activations in backward (default false). */
  gradientCheckpointing?: boolean;
  /** Default 'adamw'. 'none': gradients are kept, no optimizer state. */
  optimizer?: MemoryOptimizer;
  /** false: inference (forward under noGrad, no gradients, no optimizer state). Default true. */
  training?: boolean;
  /** Builds the probe input for a batch (default: `randn([batch, ...inputShape])` on the model's backend). */
  makeInput?: (batch: number) => Tensor;
  /** Runs the model (default `model.forward(x)`); every floating tensor in the result enters the loss. */
  forward?: (model: Module, x: Tensor) => unknown;
  /** The repeated blocks checkpointing wraps (default: the longest ModuleList of one module class). */
  blocks?: readonly Module[];
}

/** Bytes of each part of a training step's memory; `total` is their sum (the seed's budget). */
export interface MemoryEstimate {
  parameters: number;
  gradients: number;
  optimizerStates: number;
  activations: number;
  total: number;
  /** Parameter and buffer elements, and the trainable parameter elements. */
  parameterCount: number;
  trainableCount: number;
  /** The measured activation bytes as a + b·batch (fp32, before the precision's scaling). */
  activationFit: { perBatch: number; fixed: number };
  precision: MemoryPrecision;
  batch: number;
}

/** Bytes per element: [parameters (incl. master copy), gradients, one optimizer state, activation scale]. */
const PRECISION: Record<MemoryPrecision, { param: number; grad: number; state: number; act: number }> = {
  // ZeRO's accounting for mixed precision: fp16 weights + fp32 master (6), fp16 grads (2), fp32 states.
  fp32: { param: 4, grad: 4, state: 4, act: 1 },
  mixed: { param: 6, grad: 2, state: 4, act: 0.5 },
  bf16: { param: 2, grad: 2, state: 2, act: 0.5 },
};

const STATES: Record<MemoryOptimizer, number> = { adamw: 2, adam: 2, "sgd-momentum": 1, sgd: 0, none: 0 };

/** The repeated blocks: the ModuleList with the most children of one class (at least two). */
export function findRepeatedBlocks(model: Module): Module[] {
  let best: Module[] = [];
  for (const m of model.modules()) {
    if (!(m instanceof ModuleList)) continue;
    const kids = [...m.children()];
    if (
      kids.length >= 2 &&
      kids.length > best.length &&
      kids.every((k) => k.constructor === kids[0]!.constructor)
    )
      best = kids;
  }
  return best;
}

/** Wraps each block's forward in autograd's `checkpoint` (Blocks via their own option); returns the undo. */
function checkpointBlocks(blocks: readonly Module[]): () => void {
  const undo: (() => void)[] = [];
  for (const b of blocks) {
    const own = Object.getOwnPropertyDescriptor(b, "forward");
    const orig = b.forward;
    const wrapped =
      b instanceof Block
        ? (x: Tensor, o: object = {}) => orig.call(b, x, { ...o, checkpoint: true })
        : (x: Tensor, ...rest: unknown[]) =>
            checkpoint((t) => {
              const r = orig.call(b, t, ...rest);
              if (!(r instanceof Tensor))
                throw new TypeError(
                  `estimateMemory: cannot checkpoint ${b.typeName}: its forward returns no Tensor`,
                );
              return r;
            }, x);
    Object.defineProperty(b, "forward", { value: wrapped, configurable: true, writable: true });
    undo.push(() => {
      if (own) Object.defineProperty(b, "forward", own);
      else delete (b as { forward?: unknown }).forward;
    });
  }
  return () => {
    for (const u of undo) u();
  };
}

function floatingTensors(value: unknown, out: Tensor[] = [], seen = new Set<unknown>()): Tensor[] {
  if (value instanceof Tensor) {
    if (isFloating(value.dtype)) out.push(value);
  } else if (value !== null && typeof value === "object" && !seen.has(value)) {
    seen.add(value);
    for (const v of value instanceof Map ? value.values() : Object.values(value))
      floatingTensors(v, out, seen);
  }
  return out;
}

/**
 * Estimates a training (or inference) step's memory in bytes, like the seed's printed budget:
 * parameters, gradients and optimizer states are exact from the module; activations are measured
 * by running the model at batch 1 and 2 on its backend (peak live bytes above the model's own, input
 * included) and extrapolating to `batch`. mixed/bf16 halve the measured fp32 activations. `total`
 * is the sum of the parts, an upper bound on the true peak (gradients and activations are not all
 * alive at once); on backend-js it is within 25% of the measured peak of a real AdamW step (tested).
 *
 * @example
 * const model = new Block(64, 4);
 * const m = estimateMemory(model, { inputShape: [16, 64], batch: 32, optimizer: "adamw" });
 * console.log(formatMemoryEstimate(m)); // parameters 0.19 MiB, …, activations …, total …
 */
export function estimateMemory(model: Module, opts: EstimateMemoryOptions = {}): MemoryEstimate {
  const batch = opts.batch ?? 1;
  const precision = opts.precision ?? "fp32";
  const optimizer = opts.optimizer ?? "adamw";
  const training = opts.training ?? true;
  if (!Number.isInteger(batch) || batch < 1)
    throw new RangeError(`estimateMemory: batch must be a positive integer, got ${batch}`);
  if (!(precision in PRECISION))
    throw new RangeError(`estimateMemory: precision must be fp32, mixed or bf16, got ${precision}`);
  if (!(optimizer in STATES))
    throw new RangeError(
      `estimateMemory: optimizer must be adamw, adam, sgd, sgd-momentum or none, got ${optimizer}`,
    );
  if (!opts.makeInput && !opts.inputShape)
    throw new RangeError(
      `estimateMemory(${model.typeName}): give inputShape (one sample, no batch) or makeInput`,
    );
  const params = [...model.parameters()];
  const trainable = params.filter((p) => p.requiresGrad);
  const parameterCount = model.numParameters() + [...model.buffers()].reduce((n, b) => n + b.size, 0);
  const trainableCount = trainable.reduce((n, p) => n + p.size, 0);
  const bytes = PRECISION[precision];
  const parameters = parameterCount * bytes.param;
  const gradients = training ? trainableCount * bytes.grad : 0;
  const optimizerStates = training ? trainableCount * STATES[optimizer] * bytes.state : 0;

  const backend = params[0]?.backendName;
  const makeInput =
    opts.makeInput ?? ((b: number) => randn([b, ...opts.inputShape!], backend ? { backend } : {}));
  const forward = opts.forward ?? ((m: Module, x: Tensor) => m.forward(x));
  const blocks = opts.blocks ?? (opts.gradientCheckpointing ? findRepeatedBlocks(model) : []);
  if (opts.gradientCheckpointing && blocks.length === 0)
    throw new RangeError(
      `estimateMemory(${model.typeName}): gradientCheckpointing needs repeated blocks (a ModuleList of one class) or opts.blocks`,
    );

  // Gradients must exist before the probes so that their bytes are in the baseline, not the peak.
  const stash = trainable.map((p) => (p.grad ? p.grad.clone() : null));
  const undo = opts.gradientCheckpointing && training ? checkpointBlocks(blocks) : () => {};
  const probe = (b: number): number => {
    const x = makeInput(b);
    try {
      const base = memory().numBytes - x.storage.bytes; // the input counts as activation
      resetPeakMemory();
      if (training) {
        enableGrad(() => {
          const loss = tidy(() => {
            const outs = floatingTensors(forward(model, x)).filter((t) => t.requiresGrad);
            if (outs.length === 0)
              throw new Error(`estimateMemory(${model.typeName}): the forward's outputs do not require grad`);
            return outs.map((t) => t.sum()).reduce((a, c) => a.add(c));
          });
          loss.backward();
          loss.dispose();
        });
      } else {
        noGrad(() => tidy(() => void forward(model, x)));
      }
      return memory().peakBytes - base;
    } finally {
      x.dispose();
    }
  };
  let fit: { perBatch: number; fixed: number };
  try {
    if (training) probe(1); // allocates the gradients
    const p1 = probe(1);
    const p2 = probe(2);
    fit = { perBatch: Math.max(0, p2 - p1), fixed: p1 - Math.max(0, p2 - p1) };
  } finally {
    undo();
    trainable.forEach((p, i) => {
      p.grad = stash[i] ?? null;
    });
  }
  const activations = Math.round((fit.fixed + fit.perBatch * batch) * bytes.act);
  return {
    parameters,
    gradients,
    optimizerStates,
    activations,
    total: parameters + gradients + optimizerStates + activations,
    parameterCount,
    trainableCount,
    activationFit: fit,
    precision,
    batch,
  };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

/**
 * The estimate as the seed prints it, one part per line.
 *
 * @example
 * formatMemoryEstimate(estimateMemory(new Block(64, 4), { inputShape: [16, 64], batch: 8 }));
 * // "memory (fp32, batch 8): parameters 0.19 MiB · gradients 0.19 MiB · optimizer 0.38 MiB · activations … · total …"
 */
export function formatMemoryEstimate(m: MemoryEstimate): string {
  return (
    `memory (${m.precision}, batch ${m.batch}): parameters ${mib(m.parameters)} · gradients ${mib(m.gradients)}` +
    ` · optimizer ${mib(m.optimizerStates)} · activations ${mib(m.activations)} · total ${mib(m.total)}`
  );
}
