/**
 * The native attention kernels against backend-js: the forward kernel (fused online-softmax path and
 * the weights path) against backend-js's composite in float64, and attentionBackward against
 * backend-js autograd's gradients of sum(out ∘ G) through the composite (float64), for causal,
 * -Inf masks, Sq != Sk, D != Dv and sizes that are not multiples of the kernel's tiles (64 queries,
 * 128 keys). Malformed direct calls throw.
 *
 * Tolerances: the native kernels compute in float32 with float32 accumulation over at most D or Sk
 * (≤ 130) terms of O(1) values and a ~1-ulp exp, against float64 references; each element must lie
 * within 1e-4 · max(1, max|ref|) + 1e-4 · |ref| (about 100× float32's eps on the accumulated scale).
 */
import { grad } from "@tessera/autograd";
import "@tessera/backend-js";
import {
  type Backend,
  findBackend,
  scaledDotProductAttention,
  type Tensor,
  tensor,
  withBackend,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import "../src/index.js";
import { nativeAvailable } from "./native-available.js";
import { rng } from "./rng.js";

type Kernel = (...args: unknown[]) => void;

/** Values rounded to float32 so both backends see the same inputs. */
function randArray(n: number, r: () => number, amp = 1): number[] {
  return Array.from({ length: n }, () => Math.fround((r() * 2 - 1) * amp));
}

interface Problem {
  b: number;
  sq: number;
  sk: number;
  d: number;
  dv: number;
  causal: boolean;
  /** none, a float mask, or a float mask with -Inf entries (key 0 stays open unless fullyMasked). */
  mask: "none" | "float" | "inf";
  scale?: number;
  seed: number;
}

function makeInputs(p: Problem) {
  const r = rng(p.seed);
  const q = randArray(p.b * p.sq * p.d, r, 1.5);
  const k = randArray(p.b * p.sk * p.d, r, 1.5);
  const v = randArray(p.b * p.sk * p.dv, r);
  const g = randArray(p.b * p.sq * p.dv, r);
  let mask: number[] | null = null;
  if (p.mask !== "none") {
    mask = randArray(p.b * p.sq * p.sk, r, 2);
    if (p.mask === "inf") {
      mask = mask.map((x, i) => (i % p.sk !== 0 && r() < 0.3 ? Number.NEGATIVE_INFINITY : x));
    }
  }
  return { q, k, v, g, mask };
}

const scaleOf = (p: Problem) => p.scale ?? 1 / Math.sqrt(p.d);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let maxAbs = 1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    if (Number.isFinite(e)) maxAbs = Math.max(maxAbs, Math.abs(e));
  }
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e)) {
      if (!Number.isNaN(a)) expect.fail(`${what}[${i}]: expected NaN, got ${a}`);
      continue;
    }
    const tol = 1e-4 * maxAbs + 1e-4 * Math.abs(e);
    if (!(Math.abs(a - e) <= tol)) expect.fail(`${what}[${i}]: got ${a}, expected ${e} (tolerance ${tol})`);
  }
}

describe.runIf(nativeAvailable)("native attention kernels vs backend-js", () => {
  const native = () => findBackend("native") as Backend;
  const kernel = (name: string) => (native().fused as unknown as Record<string, Kernel>)[name]!;

  const nt = (values: number[], shape: number[]) => tensor(values, { shape, backend: "native" });
  const empty = (shape: number[]) =>
    withBackend("native", () => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), { shape }));

  /** Forward on native through the kernel directly; returns out and (if asked) weights. */
  function nativeForward(p: Problem, withWeights: boolean) {
    const x = makeInputs(p);
    const q = nt(x.q, [p.b, p.sq, p.d]);
    const k = nt(x.k, [p.b, p.sk, p.d]);
    const v = nt(x.v, [p.b, p.sk, p.dv]);
    const m = x.mask ? nt(x.mask, [p.b, p.sq, p.sk]) : null;
    const out = empty([p.b, p.sq, p.dv]);
    const w = withWeights ? empty([p.b, p.sq, p.sk]) : null;
    kernel("attention")(
      q.kernelView,
      k.kernelView,
      v.kernelView,
      m?.kernelView ?? null,
      { scale: scaleOf(p), causal: p.causal },
      out.kernelView,
      w?.kernelView ?? null,
    );
    const res = {
      out: Array.from(out.dataSync() as Float32Array),
      weights: w ? Array.from(w.dataSync() as Float32Array) : null,
    };
    for (const t of [q, k, v, m, out, w]) t?.dispose();
    return res;
  }

  /** backend-js composite in float64 (the Tensor path without the fused kernel). */
  function jsForward(p: Problem) {
    const x = makeInputs(p);
    return withBackend("js", () => {
      const f = (vals: number[], shape: number[]) => tensor(vals, { shape, dtype: "float64" });
      const q = f(x.q, [p.b, p.sq, p.d]);
      const k = f(x.k, [p.b, p.sk, p.d]);
      const v = f(x.v, [p.b, p.sk, p.dv]);
      const m = x.mask ? f(x.mask, [p.b, p.sq, p.sk]) : null;
      const { output, weights } = scaledDotProductAttention(q, k, v, {
        attnMask: m,
        isCausal: p.causal,
        scale: scaleOf(p),
        returnWeights: true,
      });
      const res = {
        out: Array.from(output.dataSync() as Float64Array),
        weights: Array.from(weights.dataSync() as Float64Array),
      };
      for (const t of [q, k, v, m, output, weights]) t?.dispose();
      return res;
    });
  }

  function nativeBackward(p: Problem) {
    const x = makeInputs(p);
    const q = nt(x.q, [p.b, p.sq, p.d]);
    const k = nt(x.k, [p.b, p.sk, p.d]);
    const v = nt(x.v, [p.b, p.sk, p.dv]);
    const m = x.mask ? nt(x.mask, [p.b, p.sq, p.sk]) : null;
    const dout = nt(x.g, [p.b, p.sq, p.dv]);
    const dq = empty([p.b, p.sq, p.d]);
    const dk = empty([p.b, p.sk, p.d]);
    const dv = empty([p.b, p.sk, p.dv]);
    const dm = m ? empty([p.b, p.sq, p.sk]) : null;
    kernel("attentionBackward")(
      q.kernelView,
      k.kernelView,
      v.kernelView,
      m?.kernelView ?? null,
      dout.kernelView,
      { scale: scaleOf(p), causal: p.causal },
      dq.kernelView,
      dk.kernelView,
      dv.kernelView,
      dm?.kernelView ?? null,
    );
    const read = (t: Tensor | null) => (t ? Array.from(t.dataSync() as Float32Array) : null);
    const res = { dq: read(dq)!, dk: read(dk)!, dv: read(dv)!, dmask: read(dm) };
    for (const t of [q, k, v, m, dout, dq, dk, dv, dm]) t?.dispose();
    return res;
  }

  /** Gradients of sum(out ∘ G) through backend-js's composite, float64. */
  function jsBackward(p: Problem) {
    const x = makeInputs(p);
    return withBackend("js", () => {
      const f = (vals: number[], shape: number[]) => tensor(vals, { shape, dtype: "float64" });
      const args = [f(x.q, [p.b, p.sq, p.d]), f(x.k, [p.b, p.sk, p.d]), f(x.v, [p.b, p.sk, p.dv])];
      if (x.mask) args.push(f(x.mask, [p.b, p.sq, p.sk]));
      const G = f(x.g, [p.b, p.sq, p.dv]);
      const loss = (...t: Tensor[]) =>
        scaledDotProductAttention(t[0]!, t[1]!, t[2]!, {
          attnMask: t[3] ?? null,
          isCausal: p.causal,
          scale: scaleOf(p),
        })
          .mul(G)
          .sum();
      const grads = grad(loss, { argnums: args.map((_, i) => i) })(...args);
      const read = (t: Tensor | undefined) => (t ? Array.from(t.dataSync() as Float64Array) : null);
      const res = { dq: read(grads[0])!, dk: read(grads[1])!, dv: read(grads[2])!, dmask: read(grads[3]) };
      for (const t of [...args, G, ...grads]) t.dispose();
      return res;
    });
  }

  const shapes: Omit<Problem, "causal" | "mask" | "seed">[] = [
    { b: 1, sq: 1, sk: 1, d: 1, dv: 1 },
    { b: 2, sq: 7, sk: 7, d: 5, dv: 3 },
    { b: 1, sq: 65, sk: 130, d: 16, dv: 24 },
    { b: 3, sq: 130, sk: 65, d: 33, dv: 17 },
    { b: 1, sq: 130, sk: 130, d: 64, dv: 64 },
    { b: 2, sq: 1, sk: 130, d: 8, dv: 8 },
    { b: 1, sq: 200, sk: 7, d: 4, dv: 9 },
  ];
  const modes: Pick<Problem, "causal" | "mask">[] = [
    { causal: false, mask: "none" },
    { causal: true, mask: "none" },
    { causal: false, mask: "inf" },
    { causal: true, mask: "float" },
    { causal: true, mask: "inf" },
  ];
  const problems: Problem[] = [];
  let seed = 1;
  for (const s of shapes) for (const m of modes) problems.push({ ...s, ...m, seed: seed++ });
  problems.push({ b: 2, sq: 9, sk: 11, d: 4, dv: 6, causal: false, mask: "float", scale: 0.7, seed: 99 });
  const label = (p: Problem) =>
    `B${p.b} Sq${p.sq} Sk${p.sk} D${p.d} Dv${p.dv} causal=${p.causal} mask=${p.mask}${p.scale ? ` scale=${p.scale}` : ""}`;

  it.each(problems.map((p) => [label(p), p] as const))("forward %s", (_, p) => {
    const ref = jsForward(p);
    const fused = nativeForward(p, false);
    expectClose(fused.out, ref.out, "out (fused)");
    const unfused = nativeForward(p, true);
    expectClose(unfused.out, ref.out, "out (weights path)");
    expectClose(unfused.weights!, ref.weights, "weights");
  });

  it.each(problems.map((p) => [label(p), p] as const))("backward %s", (_, p) => {
    const ref = jsBackward(p);
    const got = nativeBackward(p);
    expectClose(got.dq, ref.dq, "dq");
    expectClose(got.dk, ref.dk, "dk");
    expectClose(got.dv, ref.dv, "dv");
    if (p.mask !== "none") expectClose(got.dmask!, ref.dmask!, "dmask");
  });

  it("a fully masked row is NaN in out and weights, like backend-js; other rows are unaffected", () => {
    const p: Problem = { b: 1, sq: 70, sk: 140, d: 8, dv: 8, causal: false, mask: "float", seed: 7 };
    const x = makeInputs(p);
    for (let j = 0; j < p.sk; j++) x.mask![3 * p.sk + j] = Number.NEGATIVE_INFINITY;
    const q = nt(x.q, [1, p.sq, p.d]);
    const k = nt(x.k, [1, p.sk, p.d]);
    const v = nt(x.v, [1, p.sk, p.dv]);
    const m = nt(x.mask!, [1, p.sq, p.sk]);
    for (const withWeights of [false, true]) {
      const out = empty([1, p.sq, p.dv]);
      const w = withWeights ? empty([1, p.sq, p.sk]) : null;
      kernel("attention")(
        q.kernelView,
        k.kernelView,
        v.kernelView,
        m.kernelView,
        { scale: 0.5, causal: false },
        out.kernelView,
        w?.kernelView ?? null,
      );
      const o = out.dataSync() as Float32Array;
      const ref = withBackend("js", () => {
        const f = (vals: number[], shape: number[]) => tensor(vals, { shape, dtype: "float64" });
        return Array.from(
          scaledDotProductAttention(f(x.q, [1, p.sq, p.d]), f(x.k, [1, p.sk, p.d]), f(x.v, [1, p.sk, p.dv]), {
            attnMask: f(x.mask!, [1, p.sq, p.sk]),
            scale: 0.5,
          }).dataSync() as Float64Array,
        );
      });
      expectClose(o, ref, "out");
      for (let d = 0; d < p.dv; d++) expect(o[3 * p.dv + d]).toBeNaN();
      if (w) {
        const wv = w.dataSync() as Float32Array;
        for (let j = 0; j < p.sk; j++) expect(wv[3 * p.sk + j]).toBeNaN();
        expect(Number.isNaN(wv[4 * p.sk])).toBe(false);
      }
      out.dispose();
      w?.dispose();
    }
    for (const t of [q, k, v, m]) t.dispose();
  });

  it("Sk = 0 gives out = 0 and zero gradients for q", () => {
    const q = nt([1, 2, 3, 4], [1, 2, 2]);
    const k = empty([1, 0, 2]);
    const v = empty([1, 0, 3]);
    const out = nt([9, 9, 9, 9, 9, 9], [1, 2, 3]);
    kernel("attention")(
      q.kernelView,
      k.kernelView,
      v.kernelView,
      null,
      { scale: 1, causal: false },
      out.kernelView,
      null,
    );
    expect(Array.from(out.dataSync() as Float32Array)).toEqual([0, 0, 0, 0, 0, 0]);
    const dq = nt([9, 9, 9, 9], [1, 2, 2]);
    kernel("attentionBackward")(
      q.kernelView,
      k.kernelView,
      v.kernelView,
      null,
      out.kernelView,
      { scale: 1, causal: false },
      dq.kernelView,
      k.kernelView,
      v.kernelView,
      null,
    );
    expect(Array.from(dq.dataSync() as Float32Array)).toEqual([0, 0, 0, 0]);
    for (const t of [q, k, v, out, dq]) t.dispose();
  });

  it("malformed calls throw", () => {
    const t = (shape: number[]) => empty(shape);
    const q = t([2, 3, 4]);
    const k = t([2, 5, 4]);
    const v = t([2, 5, 6]);
    const out = t([2, 3, 6]);
    const attrs = { scale: 1, causal: false };
    const fwd = kernel("attention");
    expect(() =>
      fwd(q.kernelView, k.kernelView, v.kernelView, null, attrs, out.kernelView, null),
    ).not.toThrow();
    expect(() =>
      fwd(q.kernelView, t([2, 5, 3]).kernelView, v.kernelView, null, attrs, out.kernelView, null),
    ).toThrow(/k must be/);
    expect(() =>
      fwd(q.kernelView, t([1, 5, 4]).kernelView, v.kernelView, null, attrs, out.kernelView, null),
    ).toThrow(/k must be/);
    expect(() =>
      fwd(q.kernelView, k.kernelView, t([2, 4, 6]).kernelView, null, attrs, out.kernelView, null),
    ).toThrow(/v must be/);
    expect(() =>
      fwd(q.kernelView, k.kernelView, v.kernelView, t([2, 3, 4]).kernelView, attrs, out.kernelView, null),
    ).toThrow(/mask must be/);
    expect(() =>
      fwd(q.kernelView, k.kernelView, v.kernelView, null, attrs, t([2, 3, 5]).kernelView, null),
    ).toThrow(/out must be/);
    expect(() =>
      fwd(q.kernelView, k.kernelView, v.kernelView, null, attrs, out.kernelView, t([2, 5, 3]).kernelView),
    ).toThrow(/weights must be/);
    expect(() =>
      fwd(t([6, 4]).kernelView, k.kernelView, v.kernelView, null, attrs, out.kernelView, null),
    ).toThrow(/3-d/);
    expect(() =>
      fwd(
        q.kernelView,
        k.kernelView,
        v.kernelView,
        null,
        { scale: Number.NaN, causal: false },
        out.kernelView,
        null,
      ),
    ).toThrow(/scale/);
    const bwd = kernel("attentionBackward");
    const args = (dq: Tensor, dk: Tensor, dv: Tensor, dm: Tensor | null) =>
      bwd(
        q.kernelView,
        k.kernelView,
        v.kernelView,
        null,
        out.kernelView,
        attrs,
        dq.kernelView,
        dk.kernelView,
        dv.kernelView,
        dm?.kernelView ?? null,
      );
    expect(() => args(t([2, 3, 4]), t([2, 5, 4]), t([2, 5, 6]), null)).not.toThrow();
    expect(() => args(t([2, 3, 5]), t([2, 5, 4]), t([2, 5, 6]), null)).toThrow(/dq must be/);
    expect(() => args(t([2, 3, 4]), t([2, 4, 4]), t([2, 5, 6]), null)).toThrow(/dk must be/);
    expect(() => args(t([2, 3, 4]), t([2, 5, 4]), t([2, 5, 4]), null)).toThrow(/dv must be/);
    expect(() => args(t([2, 3, 4]), t([2, 5, 4]), t([2, 5, 6]), t([2, 5, 3]))).toThrow(/dmask must be/);
  });
});
