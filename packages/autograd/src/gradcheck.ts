/**
 * gradcheck: analytic gradients against central finite differences, in float64 on backend-js
 * (or another backend with float64). The function's outputs are projected onto fixed random
 * weights, so one scalar covers every output element.
 */
import { fmtShape, Generator, isFloating, randn, type Tensor, tensor, tidy } from "@tessera/core";
import { runBackward } from "./backward.js";
import { edgeOf, tensorOutputs } from "./graph.js";
import { enableGrad, noGrad } from "./mode.js";

export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-3). */
  rtol?: number;
  /** Backend to run on (default 'js'). */
  backend?: string;
  /** Seed of the output projection (default 0). */
  seed?: number;
  /** Throw on a mismatch (default true); false returns the report. */
  raise?: boolean;
}

export interface GradcheckReport {
  ok: boolean;
  /** The largest |analytic − numeric| over every checked element. */
  maxAbsError: number;
  /** The worst element: which input, its flat index, both values. */
  worst: { input: number; index: number; analytic: number; numeric: number } | null;
}

type Outputs = Tensor | readonly Tensor[] | Readonly<Record<string, Tensor | null>>;

function floatOutputs(out: Outputs): Tensor[] {
  return tensorOutputs(out).filter((t): t is Tensor => t !== null && isFloating(t.dtype));
}

/**
 * Checks d f / d inputs for every floating input. Inputs are copied to float64 on the chosen
 * backend; integer and bool inputs (indices, masks) pass through unchanged.
 */
export function gradcheck(
  f: (...inputs: Tensor[]) => Outputs,
  inputs: readonly Tensor[],
  opts: GradcheckOptions = {},
): GradcheckReport {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  const backend = opts.backend ?? "js";
  const values = inputs.map((t) =>
    isFloating(t.dtype) ? Float64Array.from(t.to(backend).dataSync() as ArrayLike<number>) : null,
  );
  const make = (i: number, data: Float64Array | null): Tensor =>
    data ? tensor(data, { shape: inputs[i]!.shape, dtype: "float64", backend }) : inputs[i]!.to(backend);

  return tidy("gradcheck", () => {
    // Fixed projection weights, one per output element.
    const probeOuts = noGrad(() => floatOutputs(f(...values.map((v, i) => make(i, v)))));
    const gen = new Generator(opts.seed ?? 0);
    const weights = probeOuts.map((o) => randn(o.shape, { dtype: "float64", backend, generator: gen }));
    const scalar = (outs: Tensor[]): Tensor => {
      if (outs.length !== weights.length)
        throw new Error("gradcheck: f returned a different number of outputs");
      let total: Tensor | null = null;
      outs.forEach((o, j) => {
        const term = o.cast("float64").mul(weights[j]!).sum();
        total = total ? total.add(term) : term;
      });
      return total ?? tensor(0, { dtype: "float64", backend });
    };
    const lossAt = (data: (Float64Array | null)[]): number =>
      noGrad(() => tidy(() => scalar(floatOutputs(f(...data.map((v, i) => make(i, v))))).itemSync()));

    // Analytic.
    const leaves = values.map((v, i) => {
      const t = make(i, v);
      if (v) t.requiresGrad = true;
      return t;
    });
    const loss = enableGrad(() => scalar(floatOutputs(f(...leaves))));
    const diffIdx = values.flatMap((v, i) => (v ? [i] : []));
    const analytic = loss.requiresGrad
      ? runBackward([loss], [null], {
          retainGraph: false,
          accumulate: false,
          capture: diffIdx.map((i) => edgeOf(leaves[i]!)!),
        })
      : diffIdx.map(() => null);

    const report: GradcheckReport = { ok: true, maxAbsError: 0, worst: null };
    let worstScore = -1;
    diffIdx.forEach((i, k) => {
      const a = analytic[k] ? (analytic[k]!.dataSync() as Float64Array) : new Float64Array(values[i]!.length);
      const data = values.map((v) => (v ? Float64Array.from(v) : null));
      const x = data[i]!;
      for (let e = 0; e < x.length; e++) {
        const orig = x[e]!;
        x[e] = orig + eps;
        const plus = lossAt(data);
        x[e] = orig - eps;
        const minus = lossAt(data);
        x[e] = orig;
        const numeric = (plus - minus) / (2 * eps);
        const err = Math.abs(a[e]! - numeric);
        const bound = atol + rtol * Math.abs(numeric);
        const score = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err / bound;
        report.maxAbsError = Math.max(report.maxAbsError, Number.isNaN(err) ? Number.POSITIVE_INFINITY : err);
        if (score > worstScore) {
          worstScore = score;
          report.worst = { input: i, index: e, analytic: a[e]!, numeric };
        }
        if (!(err <= bound)) report.ok = false;
      }
    });
    if (!report.ok && (opts.raise ?? true)) {
      const w = report.worst!;
      throw new Error(
        `gradcheck: input ${w.input} ${fmtShape(inputs[w.input]!.shape)} element ${w.index}: analytic ${w.analytic} vs numeric ${w.numeric} ` +
          `(|diff| ${Math.abs(w.analytic - w.numeric).toExponential(3)} > atol ${atol} + rtol ${rtol}·|numeric|)`,
      );
    }
    return report;
  });
}
