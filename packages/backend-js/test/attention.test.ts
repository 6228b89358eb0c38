import { Tensor } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { JsBackend } from "../src/index.js";
import { expectClose, make, randomValues, read } from "./helpers.js";

const be = new JsBackend();
const F = be.fused as Required<typeof be.fused>;
const NEG = Number.NEGATIVE_INFINITY;

/** Materialised float64 attention: softmax(q·kᵀ·scale + mask, causal) · v. */
function refAttention(
  q: number[],
  k: number[],
  v: number[],
  mask: number[] | null,
  B: number,
  Sq: number,
  Sk: number,
  D: number,
  Dv: number,
  scale: number,
  causal: boolean,
) {
  const out = new Array<number>(B * Sq * Dv).fill(0);
  const w = new Array<number>(B * Sq * Sk).fill(0);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Sq; i++) {
      const s: number[] = [];
      for (let j = 0; j < Sk; j++) {
        let d = 0;
        for (let c = 0; c < D; c++) d += q[(b * Sq + i) * D + c]! * k[(b * Sk + j) * D + c]!;
        let x = d * scale + (mask ? mask[(b * Sq + i) * Sk + j]! : 0);
        if (causal && j > i) x = NEG;
        s.push(x);
      }
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, c) => a + c, 0);
      for (let j = 0; j < Sk; j++) w[(b * Sq + i) * Sk + j] = e[j]! / z;
      for (let c = 0; c < Dv; c++) {
        let acc = 0;
        for (let j = 0; j < Sk; j++) acc += w[(b * Sq + i) * Sk + j]! * v[(b * Sk + j) * Dv + c]!;
        out[(b * Sq + i) * Dv + c] = acc;
      }
    }
  return { out, w };
}

function run(
  B: number,
  Sq: number,
  Sk: number,
  D: number,
  Dv: number,
  opts: {
    mask?: number[];
    causal?: boolean;
    weights?: boolean;
    dtype?: "float32" | "float64";
    seed?: number;
  } = {},
) {
  const dtype = opts.dtype ?? "float64";
  const seed = opts.seed ?? 1;
  const qv = randomValues(B * Sq * D, seed, -2, 2);
  const kv = randomValues(B * Sk * D, seed + 1, -2, 2);
  const vv = randomValues(B * Sk * Dv, seed + 2, -2, 2);
  const q = make(be, [B, Sq, D], qv, dtype);
  const k = make(be, [B, Sk, D], kv, dtype);
  const v = make(be, [B, Sk, Dv], vv, dtype);
  const mask = opts.mask ? make(be, [B, Sq, Sk], opts.mask, dtype) : null;
  const out = Tensor.empty([B, Sq, Dv], dtype, be);
  const w = opts.weights ? Tensor.empty([B, Sq, Sk], dtype, be) : null;
  const scale = 1 / Math.sqrt(Math.max(D, 1));
  F.attention(
    q.kernelView,
    k.kernelView,
    v.kernelView,
    mask?.kernelView ?? null,
    { scale, causal: !!opts.causal },
    out.kernelView,
    w?.kernelView ?? null,
  );
  const ref = refAttention(
    read(q),
    read(k),
    read(v),
    mask ? read(mask) : null,
    B,
    Sq,
    Sk,
    D,
    Dv,
    scale,
    !!opts.causal,
  );
  const res = { out: read(out), w: w ? read(w) : null, ref };
  for (const t of [q, k, v, mask, out, w]) t?.dispose();
  return res;
}

describe("attention", () => {
  it("online-softmax tiling matches materialised attention across tile boundaries", () => {
    for (const [B, Sq, Sk, D, Dv] of [
      [2, 7, 9, 5, 3],
      [1, 70, 300, 16, 12],
      [3, 1, 1, 1, 1],
      [1, 130, 129, 8, 65],
    ] as const) {
      const r = run(B, Sq, Sk, D, Dv, { seed: Sq + Sk });
      expectClose(r.out, r.ref.out, 1e-10, 1e-12);
    }
  });

  it("causal masks keys after the query (top-left aligned) including Sq ≠ Sk", () => {
    for (const [Sq, Sk] of [
      [7, 7],
      [5, 9],
      [9, 5],
      [150, 140],
    ] as const) {
      const r = run(2, Sq, Sk, 6, 4, { causal: true, weights: Sq < 100, seed: Sq });
      expectClose(r.out, r.ref.out, 1e-10, 1e-12);
      if (r.w) expectClose(r.w, r.ref.w, 1e-10, 1e-12);
    }
    const r = run(1, 300, 300, 4, 4, { causal: true, seed: 3 });
    expectClose(r.out, r.ref.out, 1e-10, 1e-12);
  });

  it("returns post-softmax weights that sum to 1 per row", () => {
    const r = run(2, 6, 11, 5, 7, { weights: true });
    expectClose(r.w!, r.ref.w, 1e-12, 1e-14);
    for (let row = 0; row < 12; row++) {
      const s = r.w!.slice(row * 11, row * 11 + 11).reduce((a, c) => a + c, 0);
      expect(Math.abs(s - 1)).toBeLessThan(1e-12);
    }
  });

  it("an additive -Inf mask removes keys; a fully masked row gives NaN output and weights", () => {
    const B = 1;
    const Sq = 4;
    const Sk = 200;
    const mask = randomValues(B * Sq * Sk, 4, -1, 1).map((x, i) =>
      x > 0.3 ? NEG : x + (i % Sk > 150 ? NEG : 0),
    );
    for (let j = 0; j < Sk; j++) mask[2 * Sk + j] = NEG;
    for (const weights of [false, true]) {
      const r = run(B, Sq, Sk, 8, 3, { mask, weights });
      for (const row of [0, 1, 3])
        expectClose(r.out.slice(row * 3, row * 3 + 3), r.ref.out.slice(row * 3, row * 3 + 3), 1e-10, 1e-12);
      for (const x of r.out.slice(6, 9)) expect(x).toBeNaN();
      if (weights) for (const x of r.w!.slice(2 * Sk, 3 * Sk)) expect(x).toBeNaN();
    }
  });

  it("float32 agrees with the float64 reference to 1e-5", () => {
    const r = run(2, 33, 47, 16, 16, { dtype: "float32", causal: true });
    expectClose(r.out, r.ref.out, 1e-5, 1e-6);
  });

  it("zero keys give zeros, zero queries give an empty output", () => {
    expect(run(2, 3, 0, 4, 5).out).toEqual(new Array(30).fill(0));
    expect(run(2, 0, 3, 4, 5).out).toEqual([]);
  });
});
