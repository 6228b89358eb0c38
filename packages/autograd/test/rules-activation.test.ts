import {
  dropout,
  embedding,
  Generator,
  gelu,
  layerNorm,
  logSoftmax,
  softmax,
  type Tensor,
  tensor,
  tidy,
} from "@tessera/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectFusedHolds } from "./fused-vs-composite.js";
import { expectGradcheckHolds, floats, type Input, numel, RUNS, toTensor, useJsBackend } from "./helpers.js";

useJsBackend();

const shapeArb = (minRank: number, maxRank: number) =>
  fc.array(fc.integer({ min: 1, max: 4 }), { minLength: minRank, maxLength: maxRank });
const withValues = (shape: number[]) => floats(shape, -3, 3);

describe("softmax and logSoftmax", () => {
  for (const [name, op] of [
    ["softmax", softmax],
    ["logSoftmax", logSoftmax],
  ] as const) {
    const problem = ([x, dim]: [Input, number]) => ({ f: (t: Tensor) => op(t, dim), inputs: [x] });

    it(`${name} gradient matches finite differences along any dim`, () => {
      expectGradcheckHolds(
        shapeArb(1, 3).chain((s) =>
          fc.tuple(withValues(s), fc.integer({ min: -s.length, max: s.length - 1 })),
        ),
        problem,
      );
    });

    it(`${name} fused rule equals the differentiated composite`, () => {
      expectFusedHolds(
        shapeArb(2, 3).chain((s) => fc.tuple(withValues(s), fc.integer({ min: 0, max: s.length - 1 }))),
        problem,
        30,
      );
    });
  }
});

describe("layerNorm", () => {
  const sample = fc
    .tuple(shapeArb(1, 2), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 2 }), fc.boolean())
    .chain(([lead, last, k, affine]) => {
      const shape = [...lead, last];
      const ns = shape.slice(shape.length - Math.min(k, shape.length));
      return fc.record({
        x: withValues(shape),
        w: withValues(ns),
        b: withValues(ns),
        ns: fc.constant(ns),
        affine: fc.constant(affine),
      });
    });
  const problem = (s: { x: Input; w: Input; b: Input; ns: number[]; affine: boolean }) => ({
    f: (x: Tensor, w: Tensor, b: Tensor): Tensor =>
      s.affine ? layerNorm(x, s.ns, w, b, 1e-3) : layerNorm(x, s.ns, null, null, 1e-3),
    inputs: [s.x, s.w, s.b],
  });

  it("layerNorm gradients (x, weight, bias) match finite differences", () => {
    expectGradcheckHolds(sample, problem);
  });

  it("layerNorm fused rule equals the differentiated composite", () => {
    expectFusedHolds(sample, problem, 30);
  });
});

describe("gelu", () => {
  for (const approximate of ["none", "tanh"] as const) {
    const problem = (x: Input) => ({ f: (t: Tensor) => gelu(t, { approximate }), inputs: [x] });

    it(`gelu (approximate '${approximate}') gradient matches finite differences`, () => {
      expectGradcheckHolds(shapeArb(1, 3).chain(withValues), problem);
    });

    it(`gelu (approximate '${approximate}') fused rule equals the differentiated composite`, () => {
      expectFusedHolds(shapeArb(1, 3).chain(withValues), problem, 30);
    });
  }
});

describe("dropout", () => {
  it("dropout gradient is exactly zero where the output is zero and 1/(1-p) elsewhere", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0.05, max: 0.95, noNaN: true }),
        fc.integer({ min: 0, max: 1000 }),
        (n, p, seed) =>
          tidy(() => {
            // Values away from 0, so a zero output always means a dropped element.
            const x = tensor(
              Array.from({ length: n }, (_, i) => 1 + i),
              { dtype: "float32" },
            ).requiresGrad_();
            const y = dropout(x, p, true, { generator: new Generator(seed) });
            y.backward(tensor(new Array(n).fill(1), { dtype: "float32" }));
            const out = y.dataSync();
            const g = x.grad!.dataSync();
            const scale = Math.fround(1 / (1 - p));
            for (let i = 0; i < n; i++) {
              if (out[i] === 0) expect(g[i]).toBe(0);
              else expect(Math.abs(g[i]! - scale)).toBeLessThanOrEqual(1e-6 * scale);
            }
          }),
      ),
      RUNS,
    );
  });

  it("dropout with p = 1 gives a zero gradient; in eval mode the gradient passes through", () => {
    tidy(() => {
      const x = tensor([1, -2, 3], { dtype: "float32" }).requiresGrad_();
      dropout(x, 1).backward(tensor([1, 1, 1], { dtype: "float32" }));
      expect(Array.from(x.grad!.dataSync())).toEqual([0, 0, 0]);
      const z = tensor([1, -2, 3], { dtype: "float32" }).requiresGrad_();
      dropout(z, 0.5, false).backward(tensor([1, 2, 3], { dtype: "float32" }));
      expect(Array.from(z.grad!.dataSync())).toEqual([1, 2, 3]);
    });
  });
});

describe("embedding", () => {
  const sample = fc
    .tuple(fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 4 }), shapeArb(1, 2))
    .chain(([num, dim, ishape]) =>
      fc.record({
        w: withValues([num, dim]),
        idx: fc.array(fc.integer({ min: 0, max: num - 1 }), {
          minLength: numel(ishape),
          maxLength: numel(ishape),
        }),
        ishape: fc.constant(ishape),
        pad: fc.option(fc.integer({ min: -num, max: num - 1 })),
      }),
    );

  it("embedding weight gradient matches finite differences (repeated rows add up)", () => {
    expectGradcheckHolds(sample, ({ w, idx, ishape }) => ({
      f: (t: Tensor, i: Tensor) => embedding(t, i),
      inputs: [w, { shape: ishape, values: idx, kind: "int32" }],
    }));
  });

  it("embedding gives the paddingIdx row a zero gradient and the other rows their summed gradients", () => {
    fc.assert(
      fc.property(sample, ({ w, idx, ishape, pad }) =>
        tidy(() => {
          const [num, dim] = w.shape as [number, number];
          const weight = toTensor(w).requiresGrad_();
          const indices = tensor(Int32Array.from(idx), { shape: ishape, dtype: "int32" });
          const out = embedding(weight, indices, { paddingIdx: pad });
          const gOut = Array.from({ length: out.size }, (_, i) => (i % 7) - 3);
          out.backward(tensor(gOut, { shape: out.shape, dtype: "float64" }));
          const padRow = pad === null ? -1 : pad < 0 ? pad + num : pad;
          const want = new Array<number>(num * dim).fill(0);
          idx.forEach((r, j) => {
            if (r === padRow) return;
            for (let c = 0; c < dim; c++) want[r * dim + c]! += gOut[j * dim + c]!;
          });
          expect(Array.from(weight.grad!.dataSync())).toEqual(want);
        }),
      ),
      RUNS,
    );
  });
});
