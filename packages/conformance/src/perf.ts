/**
 * Timing mode: each case's `run` on the tested backend and on the reference, median of repeated runs
 * over the same samples (drawn with the session seed). The catalogue's samples are small, so these
 * figures compare per-call overhead and small-kernel speed; `pnpm bench` owns large workloads.
 */
import type { Backend, Tensor } from "@tessera/core";
import { withBackend } from "@tessera/core";
import * as fc from "fast-check";
import { materialize } from "./arbitraries.js";
import { type ConformanceOptions, Session, selectCases } from "./runner.js";
import type { ConformanceCase, Sample } from "./types.js";

export interface PerfRow {
  name: string;
  kernel: string;
  path: string;
  /** Median milliseconds per sample batch, tested backend. */
  testedMs: number;
  referenceMs: number;
  /** reference / tested: above 1 means the tested backend is faster. */
  speedup: number;
}

export interface PerfOptions extends ConformanceOptions {
  /** Samples per case (default 20). */
  samples?: number;
  /** Timed repetitions; the median is reported (default 7). */
  repeats?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeOn(
  name: string,
  backend: Backend,
  c: ConformanceCase,
  samples: Sample[],
  repeats: number,
): Promise<number> {
  const times: number[] = [];
  for (let r = 0; r < repeats + 1; r++) {
    const inputs = withBackend(name, () => samples.map((s) => s.inputs.map(materialize)));
    const t0 = performance.now();
    const outs: Tensor[] = [];
    withBackend(name, () => {
      samples.forEach((s, i) => {
        const o = c.run(inputs[i]!, s.attrs);
        outs.push(...(Array.isArray(o) ? o : [o]));
      });
    });
    await backend.synchronize();
    // The first repetition warms caches and JITs and is not counted.
    if (r > 0) times.push(performance.now() - t0);
    for (const t of [...outs, ...inputs.flat()]) t.dispose();
  }
  return median(times);
}

export async function runPerf(factory: () => Backend, options: PerfOptions = {}): Promise<PerfRow[]> {
  const session = new Session(factory, options);
  const rows: PerfRow[] = [];
  try {
    for (const c of selectCases(options)) {
      if (session.unsupported(c) || session.unavailable(c)) continue;
      const samples = fc.sample(c.arbitrary as fc.Arbitrary<Sample>, {
        seed: session.seed,
        numRuns: options.samples ?? 20,
      });
      const repeats = options.repeats ?? 7;
      const testedMs = await timeOn(session.testedName, session.tested, c, samples, repeats);
      const referenceMs = await timeOn(session.referenceName, session.reference, c, samples, repeats);
      rows.push({
        name: c.name,
        kernel: c.kernel,
        path: session.pathOf(c.kernel),
        testedMs,
        referenceMs,
        speedup: referenceMs / testedMs,
      });
    }
  } finally {
    session.close();
  }
  return rows;
}
