import "@tessera/backend-js";
import {
  dropout,
  embedding,
  Generator,
  gelu,
  layerNorm,
  logSoftmax,
  setBackend,
  softmax,
  type Tensor,
  tensor,
  tidy,
} from "@tessera/core";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { gradcheck } from "../src/index.js";
import { expectFusedMatchesComposite, type Input } from "./fused-vs-composite.js";

beforeAll(() => setBackend("js"));

const RUNS = { numRuns: 100, seed: 42 };
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const shapeArb = (minRank: number, maxRank: number) =>
  fc.array(fc.integer({ min: 1, max: 4 }), { minLength: minRank, maxLength: maxRank });
const valuesArb = (n: number, lim = 3) =>
  fc.array(fc.double({ min: -lim, max: lim, noNaN: true }), { minLength: n, maxLength: n });
const withValues = (shape: number[]) => valuesArb(numel(shape)).map((values) => ({ shape, values }));
const f64 = (i: Input) => tensor(i.values, { shape: i.shape, dtype: "float64" });

describe("softmax and logSoftmax", () => {
  for (const [name, op] of [
    ["softmax", softmax],
    ["logSoftmax", logSoftmax],
  ] as const) {
    it(`${name} gradient matches finite differences along any dim`, () => {
      fc.assert(
        fc.property(
          shapeArb(1, 3).chain((s) =>
            fc.tuple(withValues(s), fc.integer({ min: -s.length, max: s.length - 1 })),
          ),
          ([x, dim]) => {
            gradcheck((t) => op(t, dim), [f64(x)]);
          },
        ),
        RUNS,
      );
    });

    it(`${name} fused rule equals the differentiated composite`, () => {
      fc.assert(
        fc.property(
          shapeArb(2, 3).chain((s) => fc.tuple(withValues(s), fc.integer({ min: 0, max: s.length - 1 }))),
          ([x, dim]) => expectFusedMatchesComposite((t) => op(t, dim), [x]),
        ),
        { ...RUNS, numRuns: 30 },
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
  const run =
    (ns: number[], affine: boolean) =>
    (x: Tensor, w: Tensor, b: Tensor): Tensor =>
      affine ? layerNorm(x, ns, w, b, 1e-3) : layerNorm(x, ns, null, null, 1e-3);

  it("layerNorm gradients (x, weight, bias) match finite differences", () => {
    fc.assert(
      fc.property(sample, ({ x, w, b, ns, affine }) => {
        gradcheck(run(ns, affine), [f64(x), f64(w), f64(b)]);
      }),
      RUNS,
    );
  });

  it("layerNorm fused rule equals the differentiated composite", () => {
    fc.assert(
      fc.property(sample, ({ x, w, b, ns, affine }) =>
        expectFusedMatchesComposite(run(ns, affine), [x, w, b]),
      ),
      { ...RUNS, numRuns: 30 },
    );
  });
});

describe("gelu", () => {
  for (const approximate of ["none", "tanh"] as const) {
    it(`gelu (approximate '${approximate}') gradient matches finite differences`, () => {
      fc.assert(
        fc.property(shapeArb(1, 3).chain(withValues), (x) => {
          gradcheck((t) => gelu(t, { approximate }), [f64(x)]);
        }),
        RUNS,
      );
    });

    it(`gelu (approximate '${approximate}') fused rule equals the differentiated composite`, () => {
      fc.assert(
        fc.property(shapeArb(1, 3).chain(withValues), (x) =>
          expectFusedMatchesComposite((t) => gelu(t, { approximate }), [x]),
        ),
        { ...RUNS, numRuns: 30 },
      );
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
    fc.assert(
      fc.property(sample, ({ w, idx, ishape }) => {
        const indices = tensor(Int32Array.from(idx), { shape: ishape, dtype: "int32" });
        gradcheck((t, i) => embedding(t, i), [f64(w), indices]);
      }),
      RUNS,
    );
  });

  it("embedding gives the paddingIdx row a zero gradient and the other rows their summed gradients", () => {
    fc.assert(
      fc.property(sample, ({ w, idx, ishape, pad }) =>
        tidy(() => {
          const [num, dim] = w.shape as [number, number];
          const weight = f64(w).requiresGrad_();
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
