import { type AdamAttrs, Tensor } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { JsBackend } from "../src/index.js";
import { expectClose, make, randomValues, read } from "./helpers.js";

const be = new JsBackend();
const F = be.fused as Required<typeof be.fused>;

/** torch 1.13 cross_entropy in float64, written from the formula. */
function refCE(
  x: number[],
  N: number,
  C: number,
  t: number[],
  w: number[] | null,
  ignore: number,
  eps: number,
  red: string,
) {
  const losses: number[] = [];
  let denom = 0;
  for (let n = 0; n < N; n++) {
    if (t[n] === ignore) {
      losses.push(0);
      continue;
    }
    const row = x.slice(n * C, n * C + C);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    const wt = w ? w[t[n]!]! : 1;
    const nll = -wt * (row[t[n]!]! - lse);
    let smooth = 0;
    for (let c = 0; c < C; c++) smooth += -(w ? w[c]! : 1) * (row[c]! - lse);
    losses.push((1 - eps) * nll + (eps * smooth) / C);
    denom += wt;
  }
  if (red === "none") return losses;
  const s = losses.reduce((a, b) => a + b, 0);
  return [red === "sum" ? s : s / denom];
}

describe("crossEntropy", () => {
  const N = 9;
  const C = 6;
  const x = randomValues(N * C, 3, -4, 4);
  const target = [0, 5, -100, 2, 2, 1, -100, 4, 3];
  const weight = randomValues(C, 4, 0.2, 2);
  for (const red of ["none", "mean", "sum"] as const)
    for (const eps of [0, 0.1])
      for (const withWeight of [false, true]) {
        it(`reduction=${red}, labelSmoothing=${eps}, weight=${withWeight}: matches torch's weighting rules`, () => {
          const xt = make(be, [N, C], x, "float64");
          const tt = make(be, [N], target, "int32");
          const wt = withWeight ? make(be, [C], weight, "float64") : null;
          const out = Tensor.empty(red === "none" ? [N] : [], "float64", be);
          F.crossEntropy(
            xt.kernelView,
            tt.kernelView,
            wt?.kernelView ?? null,
            { ignoreIndex: -100, labelSmoothing: eps, reduction: red },
            out.kernelView,
          );
          expectClose(
            read(out),
            refCE(x, N, C, target, withWeight ? weight : null, -100, eps, red),
            1e-12,
            1e-14,
          );
          for (const t of [xt, tt, wt, out]) t?.dispose();
        });
      }

  it("mean over rows that are all ignored is NaN (0/0, like torch); an out-of-range target throws", () => {
    const xt = make(be, [2, 3], [1, 2, 3, 4, 5, 6], "float32");
    const tt = make(be, [2], [7, 7], "int32");
    const out = Tensor.empty([], "float32", be);
    F.crossEntropy(
      xt.kernelView,
      tt.kernelView,
      null,
      { ignoreIndex: 7, labelSmoothing: 0, reduction: "mean" },
      out.kernelView,
    );
    expect(read(out)[0]).toBeNaN();
    expect(() =>
      F.crossEntropy(
        xt.kernelView,
        tt.kernelView,
        null,
        { ignoreIndex: -100, labelSmoothing: 0, reduction: "mean" },
        out.kernelView,
      ),
    ).toThrow(/out of bounds/);
    for (const t of [xt, tt, out]) t.dispose();
  });
});

describe("adamUpdate", () => {
  function refAdam(p: number[], g: number[], m: number[], v: number[], a: AdamAttrs) {
    const P = [...p];
    const Mm = [...m];
    const V = [...v];
    for (let i = 0; i < p.length; i++) {
      let pv = P[i]!;
      let gv = g[i]!;
      if (a.decoupled) pv = pv * (1 - a.lr * a.weightDecay);
      else gv = gv + a.weightDecay * pv;
      Mm[i] = a.beta1 * Mm[i]! + (1 - a.beta1) * gv;
      V[i] = a.beta2 * V[i]! + (1 - a.beta2) * gv * gv;
      const denom = Math.sqrt(V[i]!) / Math.sqrt(1 - a.beta2 ** a.step) + a.eps;
      P[i] = pv - (a.lr / (1 - a.beta1 ** a.step)) * (Mm[i]! / denom);
    }
    return { P, M: Mm, V };
  }
  for (const decoupled of [true, false])
    for (const dtype of ["float64", "float32", "bfloat16"] as const) {
      it(`${decoupled ? "AdamW" : "Adam"} in ${dtype} updates param, m and v in place over several steps`, () => {
        const n = 37;
        let p = randomValues(n, 1);
        let m = new Array(n).fill(0);
        let v = new Array(n).fill(0);
        const pt = make(be, [n], p, dtype);
        const mt = make(be, [n], m, dtype);
        const vt = make(be, [n], v, dtype);
        p = read(pt);
        for (let step = 1; step <= 3; step++) {
          const g = randomValues(n, 10 + step, -2, 2);
          const gt = make(be, [n], g, dtype);
          const a: AdamAttrs = {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weightDecay: 0.05,
            decoupled,
            step,
          };
          F.adamUpdate(pt.kernelView, gt.kernelView, mt.kernelView, vt.kernelView, a);
          const r = refAdam(p, read(gt), m, v, a);
          const tol = dtype === "float64" ? 1e-12 : dtype === "float32" ? 1e-6 : 1e-2;
          expectClose(read(pt), r.P, tol, tol);
          expectClose(read(mt), r.M, tol, tol);
          expectClose(read(vt), r.V, tol, tol * 1e-2);
          // Continue from what the backend stored (the reference is not re-rounded to the dtype otherwise).
          p = read(pt);
          m = read(mt);
          v = read(vt);
          gt.dispose();
        }
        for (const t of [pt, mt, vt]) t.dispose();
      });
    }
});
