/**
 * Times the CUDA benchmark's cases on one Tessera backend ('cuda', or 'native' / 'js' to prove the
 * code path on a machine without a GPU). Every timed region is bracketed by the backend's
 * synchronize(): warm-up runs, then one calibration run picks how many iterations one sample holds
 * (so a sample lasts at least `minSampleMs` and the dispatch of a short kernel is amortised as a
 * real loop amortises it), then `repeats` samples; the median per iteration is reported.
 */
import { performance } from "node:perf_hooks";
import { vjp } from "@tessera/autograd";
import * as core from "@tessera/core";
import {
  crossEntropy,
  type DType,
  findBackend,
  Generator,
  matmul,
  memory,
  randint,
  randn,
  scaledDotProductAttention,
  type Tensor,
  tidy,
  withBackend,
} from "@tessera/core";
import { AdamW } from "@tessera/nn";
import { benchViT } from "../model-workloads.js";
import { median } from "../stats.js";
import type { AttentionCase, CudaCase, GemmCase, VitCase } from "./workloads.js";

export interface MeasureOptions {
  warmup: number;
  repeats: number;
  /** A sample runs enough iterations to last at least this long. */
  minSampleMs: number;
  /** Stop sampling a case once it has spent this long (after at least 3 samples). */
  caseBudgetMs: number;
  /** The ViT step's repeats (each one step; defaults to `repeats`). */
  vitRepeats?: number;
}

export const FULL_MEASURE: MeasureOptions = {
  warmup: 3,
  repeats: 10,
  minSampleMs: 50,
  caseBudgetMs: 30_000,
  vitRepeats: 10,
};
export const SMALL_MEASURE: MeasureOptions = {
  warmup: 1,
  repeats: 3,
  minSampleMs: 5,
  caseBudgetMs: 5_000,
  vitRepeats: 3,
};

export interface CaseTiming {
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Per-iteration time of each sample. */
  samplesMs: number[];
  itersPerSample: number;
}

export type CaseOutcome =
  | ({
      id: string;
      kind: CudaCase["kind"];
      label: string;
      status: "ok";
      flops: number;
      tflops: number;
      notes?: string[];
      /** vit: the loss after warm-up and after the last timed step (finite = the step ran). */
      loss?: { first: number; last: number };
      /** vit: live tensors on the backend after each timed step; flat = nothing leaks per step. */
      liveTensorsPerStep?: number[];
      liveTensorsFlat?: boolean;
      /** Live tensors on the backend after the case was disposed, minus before it started. */
      leakedTensors: number;
    } & CaseTiming)
  | {
      id: string;
      kind: CudaCase["kind"];
      label: string;
      status: "unsupported" | "error";
      reason: string;
    };

/** Why a case cannot run on this backend or build (reported, not a failure of the bench). */
export class Unsupported extends Error {}

interface TfBackend {
  setTf32?: (on: boolean) => void;
  emptyCache?: () => void;
}

type AutocastFn = <T>(opts: { dtype: DType }, fn: () => T) => T;

/** core's autocast, which issue 8 adds; undefined in a core that predates it. */
export function findAutocast(): AutocastFn | undefined {
  const f = Reflect.get(core, "autocast") as unknown;
  return typeof f === "function" ? (f as AutocastFn) : undefined;
}

const liveTensors = (backend: string) => memory().backends[backend]?.numTensors ?? 0;

async function timeLoop(
  backend: string,
  step: () => void,
  opts: MeasureOptions,
  repeats: number,
  minSampleMs: number,
): Promise<CaseTiming> {
  const b = findBackend(backend);
  for (let i = 0; i < opts.warmup; i++) step();
  await b.synchronize();
  // Calibrate: one synchronised iteration.
  let t0 = performance.now();
  step();
  await b.synchronize();
  const once = performance.now() - t0;
  const iters = Math.max(1, Math.min(1000, Math.ceil(minSampleMs / Math.max(once, 1e-3))));
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < repeats) {
    t0 = performance.now();
    for (let i = 0; i < iters; i++) step();
    await b.synchronize();
    samples.push((performance.now() - t0) / iters);
    if (samples.length >= 3 && performance.now() - start > opts.caseBudgetMs) break;
  }
  return {
    medianMs: median(samples),
    minMs: Math.min(...samples),
    maxMs: Math.max(...samples),
    samplesMs: samples,
    itersPerSample: iters,
  };
}

function storageDtype(d: GemmCase["dtype"]): DType {
  return d === "tf32" ? "float32" : d;
}

async function runGemm(backend: string, c: GemmCase, opts: MeasureOptions) {
  const be = findBackend(backend) as unknown as TfBackend;
  const dtype = storageDtype(c.dtype);
  if (!findBackend(backend).dtypes.includes(dtype)) throw new Unsupported(`backend stores no ${dtype}`);
  if (c.dtype === "tf32" && typeof be.setTf32 !== "function") {
    throw new Unsupported(`backend '${backend}' has no setTf32 (TF32 is a cuda setting)`);
  }
  const a = randn([c.n, c.n], { backend, dtype }).keep();
  const bm = randn([c.n, c.n], { backend, dtype }).keep();
  try {
    if (c.dtype === "tf32") {
      try {
        be.setTf32!(true);
      } catch (e) {
        throw new Unsupported((e as Error).message);
      }
    }
    const timing = await timeLoop(
      backend,
      () => withBackend(backend, () => matmul(a, bm)).dispose(),
      opts,
      opts.repeats,
      opts.minSampleMs,
    );
    return { timing };
  } finally {
    if (c.dtype === "tf32") {
      try {
        be.setTf32!(false);
      } catch {
        // not a cuda device: nothing was set
      }
    }
    a.dispose();
    bm.dispose();
  }
}

async function runAttention(backend: string, c: AttentionCase, opts: MeasureOptions) {
  if (!findBackend(backend).dtypes.includes(c.dtype)) throw new Unsupported(`backend stores no ${c.dtype}`);
  const shape = [c.b, c.h, c.s, c.d];
  const [q, k, v, dout] = [0, 1, 2, 3].map(() => randn(shape, { backend, dtype: c.dtype }).keep()) as [
    Tensor,
    Tensor,
    Tensor,
    Tensor,
  ];
  const fwd = () => withBackend(backend, () => scaledDotProductAttention(q, k, v)).dispose();
  // Forward + backward as torch's out.backward(dout): the forward recorded, then one VJP.
  const fwdbwd = () =>
    withBackend(backend, () => {
      const r = vjp((qq, kk, vv) => scaledDotProductAttention(qq, kk, vv), q, k, v);
      try {
        for (const g of r.vjp(dout)) g.dispose();
      } finally {
        r.output.dispose();
        r.dispose();
      }
    });
  try {
    const timing = await timeLoop(
      backend,
      c.mode === "fwd" ? fwd : fwdbwd,
      opts,
      opts.repeats,
      opts.minSampleMs,
    );
    return { timing };
  } finally {
    for (const t of [q, k, v, dout]) t.dispose();
  }
}

async function runVit(backend: string, c: VitCase, opts: MeasureOptions) {
  const autocast = findAutocast();
  if (c.dtype === "bfloat16" && !autocast) {
    throw new Unsupported(
      "@tessera/core exports no autocast({ dtype }, fn) yet (issue 8 adds it): rebuild the bundle " +
        "(scripts/gpu/prepare.sh) once it has landed",
    );
  }
  const b = findBackend(backend);
  const generator = new Generator(1234);
  const m = c.model;
  return withBackend(backend, async () => {
    const model = benchViT(
      {
        kind: "vitInference",
        imgSize: m.imgSize,
        inChannels: m.inChannels,
        patchSize: m.patchSize,
        dim: m.dim,
        depth: m.depth,
        heads: m.heads,
        mlpDim: m.mlpDim,
        numClasses: m.numClasses,
      },
      generator,
    );
    model.train();
    const x = randn([c.batch, m.inChannels, m.imgSize, m.imgSize], { generator }).keep();
    const labels = randint(0, m.numClasses, [c.batch], { dtype: "int32", generator }).keep();
    const opt = new AdamW([...model.parameters()], { lr: 1e-4 });
    const forwardLoss = () => crossEntropy(model.forward(x), labels);
    let last: Tensor | undefined;
    const step = () =>
      withBackend(backend, () => {
        opt.zeroGrad();
        const loss = tidy(() =>
          c.dtype === "bfloat16" ? autocast!({ dtype: "bfloat16" }, forwardLoss) : forwardLoss(),
        );
        loss.backward();
        opt.step();
        last?.dispose();
        last = loss.detach();
        loss.dispose();
      });
    try {
      for (let i = 0; i < opts.warmup; i++) step();
      await b.synchronize();
      const first = Number((await last!.data())[0]);
      const samples: number[] = [];
      const live: number[] = [];
      const start = performance.now();
      const repeats = opts.vitRepeats ?? opts.repeats;
      while (samples.length < repeats) {
        const t0 = performance.now();
        step();
        await b.synchronize();
        samples.push(performance.now() - t0);
        live.push(liveTensors(backend));
        if (samples.length >= 3 && performance.now() - start > opts.caseBudgetMs) break;
      }
      const lastLoss = Number((await last!.data())[0]);
      const timing: CaseTiming = {
        medianMs: median(samples),
        minMs: Math.min(...samples),
        maxMs: Math.max(...samples),
        samplesMs: samples,
        itersPerSample: 1,
      };
      return {
        timing,
        loss: { first, last: lastLoss },
        liveTensorsPerStep: live,
        liveTensorsFlat: live.every((n) => n === live[0]),
      };
    } finally {
      last?.dispose();
      opt.zeroGrad();
      opt.dispose();
      x.dispose();
      labels.dispose();
      model.dispose();
    }
  });
}

/** Runs one case; never throws (a failure is the case's outcome). */
export async function runCase(backend: string, c: CudaCase, opts: MeasureOptions): Promise<CaseOutcome> {
  const base = { id: c.id, kind: c.kind, label: c.label };
  const before = liveTensors(backend);
  try {
    const r =
      c.kind === "gemm"
        ? await runGemm(backend, c, opts)
        : c.kind === "attention"
          ? await runAttention(backend, c, opts)
          : await runVit(backend, c, opts);
    const { timing, ...extra } = r as { timing: CaseTiming } & Record<string, unknown>;
    return {
      ...base,
      status: "ok",
      flops: c.flops,
      tflops: c.flops / timing.medianMs / 1e9,
      ...timing,
      ...extra,
      leakedTensors: liveTensors(backend) - before,
    };
  } catch (e) {
    if (e instanceof Unsupported) return { ...base, status: "unsupported", reason: e.message };
    return { ...base, status: "error", reason: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  } finally {
    try {
      await findBackend(backend).synchronize();
    } catch {
      // a failed case may leave the device in an error state; the next case reports its own
    }
    (findBackend(backend) as unknown as TfBackend).emptyCache?.();
  }
}
