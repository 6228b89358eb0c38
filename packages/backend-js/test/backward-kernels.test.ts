/**
 * The backward kernels of fused ops against the gradient of the forward kernel itself: for a random
 * output gradient dy, input element i's gradient must equal the central difference of ⟨dy, forward(x)⟩
 * in float64. float32 and the half dtypes are then checked against the float64 kernel.
 */
import { type DType, Tensor } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { JsBackend } from "../src/index.js";
import { expectClose, make, numelOf, randomValues, read } from "./helpers.js";

const be = new JsBackend();
const F = be.fused as Required<typeof be.fused>;
const H = 1e-6;

interface Arg {
  shape: number[];
  values: number[];
}

/** Runs `kernel` on float64 tensors made from `ins` (null stays null), returns the outputs' values. */
function run(
  ins: (Arg | null)[],
  outShapes: (number[] | null)[],
  kernel: (ins: (Tensor | null)[], outs: (Tensor | null)[]) => void,
  dtype: DType = "float64",
): (number[] | null)[] {
  const t = ins.map((a) => (a ? make(be, a.shape, a.values, dtype) : null));
  const o = outShapes.map((s) => (s ? Tensor.empty(s, dtype, be) : null));
  kernel(t, o);
  const r = o.map((x) => (x ? read(x) : null));
  for (const x of [...t, ...o]) x?.dispose();
  return r;
}

/** Σ dy·forward(ins) after moving element `e` of input `which` by `delta`. */
function projected(
  forward: (ins: Arg[]) => number[],
  ins: Arg[],
  dy: number[],
  which: number,
  e: number,
  delta: number,
): number {
  const moved = ins.map((a, i) =>
    i === which ? { shape: a.shape, values: a.values.map((v, j) => (j === e ? v + delta : v)) } : a,
  );
  return forward(moved).reduce((s, v, j) => s + v * dy[j]!, 0);
}

/** Central differences of ⟨dy, forward⟩ w.r.t. every element of input `which`. */
function numericGrad(forward: (ins: Arg[]) => number[], ins: Arg[], dy: number[], which: number): number[] {
  return ins[which]!.values.map(
    (_, e) =>
      (projected(forward, ins, dy, which, e, H) - projected(forward, ins, dy, which, e, -H)) / (2 * H),
  );
}

const arg = (shape: number[], seed: number, lo = -2, hi = 2): Arg => ({
  shape,
  values: randomValues(numelOf(shape), seed, lo, hi),
});

describe("softmaxBackward / logSoftmaxBackward", () => {
  const cases: [number[], number][] = [
    [[3, 5], 1],
    [[2, 4, 3], 1],
    [[4, 2, 3], 0],
    [[1], 0],
  ];
  for (const log of [false, true]) {
    const name = log ? "logSoftmax" : "softmax";
    const bwd = log ? F.logSoftmaxBackward : F.softmaxBackward;
    it(`${name}Backward equals the gradient of the ${name} kernel over every dim`, () => {
      cases.forEach(([shape, dim], c) => {
        const x = arg(shape, 10 + c, -3, 3);
        const dy = randomValues(numelOf(shape), 20 + c);
        const forward = ([xa]: Arg[]) =>
          run([xa!], [shape], ([t], [o]) => F[name](t!.kernelView, dim, o!.kernelView))[0]!;
        const y = forward([x]);
        const [dx] = run(
          [
            { shape, values: y },
            { shape, values: dy },
          ],
          [shape],
          ([yt, dt], [o]) => bwd(yt!.kernelView, dt!.kernelView, dim, o!.kernelView),
        );
        expectClose(dx!, numericGrad(forward, [x], dy, 0), 1e-6, 1e-8);
      });
    });

    it(`${name}Backward in float32, float16 and bfloat16 stays close to float64`, () => {
      const shape = [3, 6];
      const y = run([arg(shape, 3, -3, 3)], [shape], ([t], [o]) =>
        F[name](t!.kernelView, 1, o!.kernelView),
      )[0]!;
      const dy = randomValues(18, 4);
      const go = (dtype: DType) =>
        run(
          [
            { shape, values: y },
            { shape, values: dy },
          ],
          [shape],
          ([yt, dt], [o]) => bwd(yt!.kernelView, dt!.kernelView, 1, o!.kernelView),
          dtype,
        )[0]!;
      const ref = go("float64");
      expectClose(go("float32"), ref, 1e-5, 1e-6);
      expectClose(go("float16"), ref, 2e-2, 2e-2);
      expectClose(go("bfloat16"), ref, 5e-2, 5e-2);
    });
  }
});

describe("layerNormBackward", () => {
  const eps = 1e-3;
  for (const affine of [true, false]) {
    it(`dx, dweight and dbias equal the gradients of the layerNorm kernel (${affine ? "with" : "without"} weight)`, () => {
      const shape = [2, 3, 4];
      const size = 4;
      const x = arg(shape, 31, -3, 3);
      const w = arg([size], 32, 0.5, 2);
      const b = arg([size], 33);
      const dy = randomValues(numelOf(shape), 34);
      const forward = ([xa, wa, ba]: Arg[]) =>
        run([xa!, affine ? wa! : null, ba!], [shape], ([xt, wt, bt], [o]) =>
          F.layerNorm(xt!.kernelView, wt?.kernelView ?? null, bt!.kernelView, size, eps, o!.kernelView),
        )[0]!;
      const [dx, dw, db] = run(
        [x, affine ? w : null, { shape, values: dy }],
        [shape, [size], [size]],
        ([xt, wt, dt], [ox, ow, ob]) =>
          F.layerNormBackward(
            xt!.kernelView,
            wt?.kernelView ?? null,
            dt!.kernelView,
            size,
            eps,
            ox!.kernelView,
            ow!.kernelView,
            ob!.kernelView,
          ),
      );
      expectClose(dx!, numericGrad(forward, [x, w, b], dy, 0), 1e-6, 1e-8);
      if (affine) expectClose(dw!, numericGrad(forward, [x, w, b], dy, 1), 1e-6, 1e-8);
      else {
        // Without a weight, dweight is still Σ dy·x̂: the gradient a weight of ones would get.
        const ones = { shape: [size], values: [1, 1, 1, 1] };
        const withOnes = ([xa, wa, ba]: Arg[]) =>
          run([xa!, wa!, ba!], [shape], ([xt, wt, bt], [o]) =>
            F.layerNorm(xt!.kernelView, wt!.kernelView, bt!.kernelView, size, eps, o!.kernelView),
          )[0]!;
        expectClose(dw!, numericGrad(withOnes, [x, ones, b], dy, 1), 1e-6, 1e-8);
      }
      expectClose(db!, numericGrad(forward, [x, w, b], dy, 2), 1e-6, 1e-8);
    });
  }

  it("null dweight/dbias are not written; no rows give zero parameter gradients", () => {
    const [dx] = run([arg([2, 3], 1), null, arg([2, 3], 2)], [[2, 3]], ([xt, , dt], [o]) =>
      F.layerNormBackward(xt!.kernelView, null, dt!.kernelView, 3, 1e-5, o!.kernelView, null, null),
    );
    // Each row's dx sums to zero: the mean is subtracted.
    expect(Math.abs(dx!.slice(0, 3).reduce((s, v) => s + v, 0))).toBeLessThan(1e-12);
    const [, dw, db] = run(
      [{ shape: [0, 3], values: [] }, null, { shape: [0, 3], values: [] }],
      [[0, 3], [3], [3]],
      ([xt, , dt], [o, w, b]) =>
        F.layerNormBackward(
          xt!.kernelView,
          null,
          dt!.kernelView,
          3,
          1e-5,
          o!.kernelView,
          w!.kernelView,
          b!.kernelView,
        ),
    );
    expect(dw).toEqual([0, 0, 0]);
    expect(db).toEqual([0, 0, 0]);
  });

  it("float16 and bfloat16 go through the half decoder close to float64", () => {
    const ins = [arg([3, 5], 41), arg([5], 42, 0.5, 2), arg([3, 5], 43)];
    const go = (dtype: DType) =>
      run(
        ins,
        [[3, 5], [5], [5]],
        ([xt, wt, dt], [o, w, b]) =>
          F.layerNormBackward(
            xt!.kernelView,
            wt!.kernelView,
            dt!.kernelView,
            5,
            1e-5,
            o!.kernelView,
            w!.kernelView,
            b!.kernelView,
          ),
        dtype,
      );
    const ref = go("float64");
    for (const [dtype, tol] of [
      ["float32", 1e-5],
      ["float16", 3e-2],
      ["bfloat16", 1e-1],
    ] as const) {
      for (const [i, g] of go(dtype).entries()) expectClose(g!, ref[i]!, tol, tol);
    }
  });
});

describe("geluBackward", () => {
  for (const approximate of ["none", "tanh"] as const) {
    it(`equals the gradient of the gelu kernel (approximate '${approximate}')`, () => {
      const shape = [11];
      const x = arg(shape, 51, -5, 5);
      const dy = randomValues(11, 52);
      const forward = ([xa]: Arg[]) =>
        run([xa!], [shape], ([t], [o]) => F.gelu(t!.kernelView, approximate, o!.kernelView))[0]!;
      const [dx] = run([x, { shape, values: dy }], [shape], ([t, d], [o]) =>
        F.geluBackward(t!.kernelView, d!.kernelView, approximate, o!.kernelView),
      );
      expectClose(dx!, numericGrad(forward, [x], dy, 0), 1e-6, 1e-8);
    });
  }

  it("±Inf gives NaN (x·φ(x) is ∞·0, as in the core-ops rule and PyTorch), ±0 slope ½, NaN propagates", () => {
    const I = Number.POSITIVE_INFINITY;
    for (const approximate of ["none", "tanh"] as const) {
      const [dx] = run(
        [
          { shape: [5], values: [I, -I, Number.NaN, 0, -0] },
          { shape: [5], values: [2, 2, 2, 2, 2] },
        ],
        [[5]],
        ([t, d], [o]) => F.geluBackward(t!.kernelView, d!.kernelView, approximate, o!.kernelView),
      );
      for (const v of dx!.slice(0, 3)) expect(v).toBeNaN();
      expect(dx!.slice(3)).toEqual([1, 1]);
    }
  });
});

describe("attentionBackward", () => {
  const B = 2;
  const Sq = 3;
  const Sk = 4;
  const D = 3;
  const Dv = 2;
  const scale = 0.7;
  for (const [causal, withMask] of [
    [false, false],
    [true, true],
    [false, true],
  ] as const) {
    it(`dq, dk, dv and dmask equal the gradients of the attention kernel (causal ${causal}, mask ${withMask})`, () => {
      const q = arg([B, Sq, D], 61);
      const k = arg([B, Sk, D], 62);
      const v = arg([B, Sk, Dv], 63);
      const mask = arg([B, Sq, Sk], 64);
      const dy = randomValues(B * Sq * Dv, 65);
      const ins = [q, k, v, mask];
      const forward = ([qa, ka, va, ma]: Arg[]) =>
        run([qa!, ka!, va!, withMask ? ma! : null], [[B, Sq, Dv]], ([qt, kt, vt, mt], [o]) =>
          F.attention(
            qt!.kernelView,
            kt!.kernelView,
            vt!.kernelView,
            mt?.kernelView ?? null,
            { scale, causal },
            o!.kernelView,
            null,
          ),
        )[0]!;
      const grads = run(
        [q, k, v, withMask ? mask : null, { shape: [B, Sq, Dv], values: dy }],
        [
          [B, Sq, D],
          [B, Sk, D],
          [B, Sk, Dv],
          [B, Sq, Sk],
        ],
        ([qt, kt, vt, mt, dt], [dq, dk, dv, dm]) =>
          F.attentionBackward(
            qt!.kernelView,
            kt!.kernelView,
            vt!.kernelView,
            mt?.kernelView ?? null,
            dt!.kernelView,
            { scale, causal },
            dq!.kernelView,
            dk!.kernelView,
            dv!.kernelView,
            dm!.kernelView,
          ),
      );
      for (let i = 0; i < 3; i++) expectClose(grads[i]!, numericGrad(forward, ins, dy, i), 1e-5, 1e-7);
      // dmask is the logits' gradient, mask or not: differentiate w.r.t. a mask added to the logits
      // (zeros where the kernel ran without one).
      const m0 = withMask ? mask : { shape: mask.shape, values: mask.values.map(() => 0) };
      const forwardWithMask = ([qa, ka, va, ma]: Arg[]) =>
        run([qa!, ka!, va!, ma!], [[B, Sq, Dv]], ([qt, kt, vt, mt], [o]) =>
          F.attention(
            qt!.kernelView,
            kt!.kernelView,
            vt!.kernelView,
            mt!.kernelView,
            { scale, causal },
            o!.kernelView,
            null,
          ),
        )[0]!;
      expectClose(grads[3]!, numericGrad(forwardWithMask, [q, k, v, m0], dy, 3), 1e-5, 1e-7);
    });
  }

  it("no keys: dq is zero; no queries: dk and dv are zero", () => {
    const call = (sq: number, sk: number) =>
      run(
        [arg([1, sq, 2], 1), arg([1, sk, 2], 2), arg([1, sk, 2], 3), null, arg([1, sq, 2], 4)],
        [
          [1, sq, 2],
          [1, sk, 2],
          [1, sk, 2],
        ],
        ([qt, kt, vt, , dt], [dq, dk, dv]) =>
          F.attentionBackward(
            qt!.kernelView,
            kt!.kernelView,
            vt!.kernelView,
            null,
            dt!.kernelView,
            { scale: 1, causal: false },
            dq!.kernelView,
            dk!.kernelView,
            dv!.kernelView,
            null,
          ),
        "float32",
      );
    expect(call(2, 0)[0]).toEqual([0, 0, 0, 0]);
    const [, dk, dv] = call(0, 2);
    expect(dk).toEqual([0, 0, 0, 0]);
    expect(dv).toEqual([0, 0, 0, 0]);
  });

  it("float32 and bfloat16 stay close to float64", () => {
    const ins = [
      arg([1, 5, 4], 71),
      arg([1, 6, 4], 72),
      arg([1, 6, 3], 73),
      arg([1, 5, 6], 74),
      arg([1, 5, 3], 75),
    ];
    const go = (dtype: DType) =>
      run(
        ins,
        [
          [1, 5, 4],
          [1, 6, 4],
          [1, 6, 3],
          [1, 5, 6],
        ],
        ([qt, kt, vt, mt, dt], [dq, dk, dv, dm]) =>
          F.attentionBackward(
            qt!.kernelView,
            kt!.kernelView,
            vt!.kernelView,
            mt!.kernelView,
            dt!.kernelView,
            { scale: 0.5, causal: true },
            dq!.kernelView,
            dk!.kernelView,
            dv!.kernelView,
            dm!.kernelView,
          ),
        dtype,
      );
    const ref = go("float64");
    for (const [i, g] of go("float32").entries()) expectClose(g!, ref[i]!, 1e-5, 1e-6);
    for (const [i, g] of go("bfloat16").entries()) expectClose(g!, ref[i]!, 1e-1, 5e-2);
  });
});
