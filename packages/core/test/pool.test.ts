import { beforeAll, describe, expect, it } from "vitest";
import {
  adaptiveAvgPool2d,
  avgPool2d,
  Generator,
  maxPool2d,
  memory,
  randn,
  setBackend,
  tensor,
  tidy,
} from "../src/index.js";
import { expectClose } from "./helpers.js";

interface PoolCfg {
  x: [number, number, number, number];
  k: [number, number];
  s: [number, number];
  p: [number, number];
  d: [number, number];
  ceil: boolean;
  includePad: boolean;
}

function outSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let o = Math.floor((n + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
}

/** Direct loops following PyTorch's CPU kernels. */
function naivePool(
  x: ArrayLike<number>,
  c: PoolCfg,
  kind: "max" | "avg",
): { data: Float64Array; shape: number[] } {
  const [N, C, H, W] = c.x;
  const Ho = outSize(H, c.k[0], c.s[0], c.p[0], c.d[0], c.ceil);
  const Wo = outSize(W, c.k[1], c.s[1], c.p[1], c.d[1], c.ceil);
  const out = new Float64Array(N * C * Ho * Wo);
  for (let nc = 0; nc < N * C; nc++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++) {
        let acc = kind === "max" ? Number.NEGATIVE_INFINITY : 0;
        let hs = i * c.s[0] - c.p[0];
        let ws = j * c.s[1] - c.p[1];
        let he = Math.min(hs + c.k[0], H + c.p[0]);
        let we = Math.min(ws + c.k[1], W + c.p[1]);
        const poolSize = (he - hs) * (we - ws);
        if (kind === "max") {
          for (let a = 0; a < c.k[0]; a++)
            for (let b = 0; b < c.k[1]; b++) {
              const y = hs + a * c.d[0];
              const z = ws + b * c.d[1];
              if (y >= 0 && y < H && z >= 0 && z < W) acc = Math.max(acc, x[(nc * H + y) * W + z]!);
            }
        } else {
          hs = Math.max(hs, 0);
          ws = Math.max(ws, 0);
          he = Math.min(he, H);
          we = Math.min(we, W);
          for (let y = hs; y < he; y++) for (let z = ws; z < we; z++) acc += x[(nc * H + y) * W + z]!;
          acc /= c.includePad ? poolSize : (he - hs) * (we - ws);
        }
        out[(nc * Ho + i) * Wo + j] = acc;
      }
  return { data: out, shape: [N, C, Ho, Wo] };
}

function naiveAdaptive(x: ArrayLike<number>, shape: number[], Ho: number, Wo: number): Float64Array {
  const [N, C, H, W] = shape as [number, number, number, number];
  const out = new Float64Array(N * C * Ho * Wo);
  for (let nc = 0; nc < N * C; nc++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++) {
        const hs = Math.floor((i * H) / Ho);
        const he = Math.ceil(((i + 1) * H) / Ho);
        const ws = Math.floor((j * W) / Wo);
        const we = Math.ceil(((j + 1) * W) / Wo);
        let acc = 0;
        for (let y = hs; y < he; y++) for (let z = ws; z < we; z++) acc += x[(nc * H + y) * W + z]!;
        out[(nc * Ho + i) * Wo + j] = acc / ((he - hs) * (we - ws));
      }
  return out;
}

const close = expectClose;

const CASES: PoolCfg[] = [
  { x: [2, 3, 6, 6], k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: false, includePad: true },
  { x: [1, 2, 7, 5], k: [3, 3], s: [2, 2], p: [1, 1], d: [1, 1], ceil: false, includePad: true },
  { x: [1, 2, 7, 5], k: [3, 3], s: [2, 2], p: [1, 1], d: [1, 1], ceil: true, includePad: true },
  { x: [2, 1, 8, 7], k: [3, 2], s: [3, 2], p: [1, 0], d: [1, 1], ceil: true, includePad: false },
  { x: [1, 2, 5, 6], k: [2, 3], s: [1, 2], p: [1, 1], d: [1, 1], ceil: false, includePad: false },
];

describe.each(["js", "js-prim"])("pooling on %s", (backend) => {
  beforeAll(() => setBackend(backend));

  it.each(CASES.map((c, i) => [i, c] as const))(
    "maxPool2d and avgPool2d equal direct loops (case %i)",
    (i, c) => {
      tidy(() => {
        const x = randn(c.x, { generator: new Generator(10 + i) });
        const xd = x.dataSync();
        const mx = maxPool2d(x, c.k, { stride: c.s, padding: c.p, ceilMode: c.ceil });
        const refMax = naivePool(xd, c, "max");
        expect(mx.shape).toEqual(refMax.shape);
        close(mx, refMax.data);
        const av = avgPool2d(x, c.k, {
          stride: c.s,
          padding: c.p,
          ceilMode: c.ceil,
          countIncludePad: c.includePad,
        });
        close(av, naivePool(xd, c, "avg").data);
      });
    },
  );

  it("maxPool2d with dilation equals a direct loop", () => {
    tidy(() => {
      const c: PoolCfg = {
        x: [1, 2, 9, 8],
        k: [3, 2],
        s: [2, 1],
        p: [1, 1],
        d: [2, 3],
        ceil: true,
        includePad: true,
      };
      const x = randn(c.x, { generator: new Generator(3) });
      close(
        maxPool2d(x, c.k, { stride: c.s, padding: c.p, dilation: c.d, ceilMode: true }),
        naivePool(x.dataSync(), c, "max").data,
      );
    });
  });

  it("avgPool2d counts padded zeros in the divisor by default", () => {
    tidy(() => {
      const x = tensor([
        [
          [1, 2],
          [3, 4],
        ],
      ]);
      // One 3×3 window centred on each pixel, padding 1: every window holds all four values and five zeros.
      expect(avgPool2d(x, 3, { stride: 1, padding: 1 }).dataSync()).toEqual(
        new Float32Array([10 / 9, 10 / 9, 10 / 9, 10 / 9]),
      );
      expect(avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false }).dataSync()).toEqual(
        new Float32Array([2.5, 2.5, 2.5, 2.5]),
      );
    });
  });

  it("maxPool2d padding acts as -inf and NaN propagates", () => {
    tidy(() => {
      const x = tensor([
        [
          [
            [-5, -6],
            [-7, Number.NaN],
          ],
        ],
      ]);
      close(maxPool2d(x, 2, { stride: 1, padding: 1 }), [
        -5,
        -5,
        -6,
        -5,
        Number.NaN,
        Number.NaN,
        -7,
        Number.NaN,
        Number.NaN,
      ]);
    });
  });

  it("adaptiveAvgPool2d uses overlapping windows [floor(i·H/o), ceil((i+1)·H/o))", () => {
    tidy(() => {
      for (const [shape, ho, wo] of [
        [[2, 3, 7, 5], 3, 2],
        [[1, 2, 6, 6], 3, 3],
        [[1, 1, 4, 5], 1, 1],
        [[1, 1, 3, 2], 5, 4],
      ] as const) {
        const x = randn([...shape], { generator: new Generator(ho * 7 + wo) });
        const y = adaptiveAvgPool2d(x, [ho, wo]);
        expect(y.shape).toEqual([shape[0], shape[1], ho, wo]);
        close(y, naiveAdaptive(x.dataSync(), [...shape], ho, wo));
      }
      expect(adaptiveAvgPool2d(randn([2, 4, 3]), [null, 2]).shape).toEqual([2, 4, 2]);
    });
  });

  it("adaptiveAvgPool2d keeps an Inf inside its own windows", () => {
    tidy(() => {
      const x = tensor([[[[1, 2, 3, Number.POSITIVE_INFINITY]]]]);
      close(adaptiveAvgPool2d(x, [1, 2]), [1.5, Number.POSITIVE_INFINITY]);
    });
  });

  it("pooling errors name the op, the shapes and the argument", () => {
    tidy(() => {
      const x = randn([1, 1, 4, 4]);
      expect(() => maxPool2d(x, 2, { padding: 2 })).toThrow(
        /maxPool2d: padding \[2,2\] must be at most half the kernel \[2,2\]/,
      );
      expect(() => avgPool2d(randn([1, 1, 1, 1]), 3, { padding: 1, stride: 3 })).not.toThrow();
      expect(() => maxPool2d(x, 5)).toThrow(
        /maxPool2d: output size \[0,0\] is too small for input \[1,1,4,4\]/,
      );
      expect(() => maxPool2d(randn([4, 4]), 2)).toThrow(/maxPool2d: input must be \[N,C,H,W\]/);
      expect(() => adaptiveAvgPool2d(x, 0)).toThrow(
        /adaptiveAvgPool2d: outputSize must be a positive integer/,
      );
    });
  });

  it("pooling leaves the live tensor count unchanged", () => {
    const x = randn([2, 3, 7, 7]);
    for (const run of [
      () => maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }),
      () => avgPool2d(x, 3, { stride: 2, padding: 1, countIncludePad: false }),
      () => adaptiveAvgPool2d(x, [3, 4]),
    ]) {
      const before = memory().numTensors;
      run().dispose();
      expect(memory().numTensors).toBe(before);
    }
    x.dispose();
  });
});
