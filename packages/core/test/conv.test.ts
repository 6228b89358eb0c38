import { beforeAll, describe, expect, it } from "vitest";
import * as T from "../src/index.js";
import {
  conv2d,
  convTranspose2d,
  Generator,
  memory,
  randn,
  setBackend,
  type Tensor,
  tensor,
  tidy,
} from "../src/index.js";
import { expectClose } from "./helpers.js";

interface Cfg {
  x: number[]; // [N,C,H,W]
  w: number[];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
  outputPadding?: [number, number];
  bias: boolean;
}

/** Direct-loop conv2d: out[n,o,i,j] = b[o] + Σ x[n, g·Cg + c, i·s − p + ki·d, …] · w[o, c, ki, kj]. */
function naiveConv(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  c: Cfg,
): { data: Float64Array; shape: number[] } {
  const [N, C, H, W] = c.x as [number, number, number, number];
  const [O, Cg, kh, kw] = c.w as [number, number, number, number];
  const [sh, sw] = c.stride;
  const [ph, pw] = c.padding;
  const [dh, dw] = c.dilation;
  const Ho = Math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const Wo = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const Og = O / c.groups;
  const out = new Float64Array(N * O * Ho * Wo);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let acc = b ? b[o]! : 0;
          const grp = Math.floor(o / Og);
          for (let ci = 0; ci < Cg; ci++)
            for (let ki = 0; ki < kh; ki++)
              for (let kj = 0; kj < kw; kj++) {
                const y = i * sh - ph + ki * dh;
                const xx = j * sw - pw + kj * dw;
                if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
                acc +=
                  x[((n * C + grp * Cg + ci) * H + y) * W + xx]! * w[((o * Cg + ci) * kh + ki) * kw + kj]!;
              }
          out[((n * O + o) * Ho + i) * Wo + j] = acc;
        }
  return { data: out, shape: [N, O, Ho, Wo] };
}

/** Direct-loop transposed conv: each input pixel scatters x·w into out[i·s − p + ki·d, …]. */
function naiveConvT(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
  c: Cfg,
): { data: Float64Array; shape: number[] } {
  const [N, C, H, W] = c.x as [number, number, number, number];
  const [, Og, kh, kw] = c.w as [number, number, number, number];
  const [sh, sw] = c.stride;
  const [ph, pw] = c.padding;
  const [dh, dw] = c.dilation;
  const [oph, opw] = c.outputPadding ?? [0, 0];
  const O = Og * c.groups;
  const Cg = C / c.groups;
  const Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1;
  const Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
  const out = new Float64Array(N * O * Ho * Wo);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let k = 0; k < Ho * Wo; k++) out[(n * O + o) * Ho * Wo + k] = b ? b[o]! : 0;
  for (let n = 0; n < N; n++)
    for (let ci = 0; ci < C; ci++)
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++) {
          const grp = Math.floor(ci / Cg);
          for (let oo = 0; oo < Og; oo++)
            for (let ki = 0; ki < kh; ki++)
              for (let kj = 0; kj < kw; kj++) {
                const y = i * sh - ph + ki * dh;
                const xx = j * sw - pw + kj * dw;
                if (y < 0 || y >= Ho || xx < 0 || xx >= Wo) continue;
                out[((n * O + grp * Og + oo) * Ho + y) * Wo + xx]! +=
                  x[((n * C + ci) * H + i) * W + j]! * w[((ci * Og + oo) * kh + ki) * kw + kj]!;
              }
        }
  return { data: out, shape: [N, O, Ho, Wo] };
}

// Conv sums many products: 1e-4 relative by default.
const close = (a: Tensor, e: ArrayLike<number>, tol = 1e-4) => expectClose(a, e, tol);

const CONV_CASES: Cfg[] = [
  {
    x: [2, 3, 7, 6],
    w: [4, 3, 3, 3],
    stride: [1, 1],
    padding: [0, 0],
    dilation: [1, 1],
    groups: 1,
    bias: true,
  },
  {
    x: [1, 4, 9, 8],
    w: [6, 2, 3, 2],
    stride: [2, 3],
    padding: [1, 2],
    dilation: [1, 1],
    groups: 2,
    bias: true,
  },
  {
    x: [2, 2, 10, 9],
    w: [3, 2, 3, 3],
    stride: [1, 2],
    padding: [2, 1],
    dilation: [2, 3],
    groups: 1,
    bias: false,
  },
  {
    x: [1, 6, 5, 5],
    w: [6, 1, 3, 3],
    stride: [1, 1],
    padding: [1, 1],
    dilation: [1, 1],
    groups: 6,
    bias: true,
  },
  {
    x: [2, 3, 8, 8],
    w: [5, 3, 4, 4],
    stride: [4, 4],
    padding: [0, 0],
    dilation: [1, 1],
    groups: 1,
    bias: true,
  },
];

const CONVT_CASES: Cfg[] = [
  {
    x: [2, 3, 4, 5],
    w: [3, 2, 3, 3],
    stride: [1, 1],
    padding: [0, 0],
    dilation: [1, 1],
    groups: 1,
    bias: true,
  },
  {
    x: [1, 4, 3, 4],
    w: [4, 3, 4, 4],
    stride: [2, 2],
    padding: [1, 1],
    dilation: [1, 1],
    groups: 1,
    bias: true,
  },
  {
    x: [2, 4, 3, 3],
    w: [4, 2, 3, 2],
    stride: [3, 2],
    padding: [1, 0],
    dilation: [1, 1],
    groups: 2,
    outputPadding: [2, 1],
    bias: true,
  },
  {
    x: [1, 2, 4, 3],
    w: [2, 3, 2, 3],
    stride: [2, 1],
    padding: [3, 2],
    dilation: [2, 2],
    groups: 1,
    outputPadding: [1, 1],
    bias: false,
  },
  {
    x: [1, 2, 2, 2],
    w: [2, 1, 2, 2],
    stride: [2, 2],
    padding: [0, 0],
    dilation: [1, 1],
    groups: 1,
    bias: false,
  },
];

describe.each(["js", "js-prim"])("conv on %s", (backend) => {
  beforeAll(() => setBackend(backend));

  it.each(CONV_CASES.map((c, i) => [i, c] as const))(
    "conv2d equals a direct loop (case %i: stride, padding, dilation, groups)",
    (i, c) => {
      tidy(() => {
        const x = randn(c.x, { generator: new Generator(100 + i) });
        const w = randn(c.w, { generator: new Generator(200 + i) });
        const b = c.bias ? randn([c.w[0]!], { generator: new Generator(300 + i) }) : null;
        const y = conv2d(x, w, b, c);
        const ref = naiveConv(
          x.dataSync() as Float32Array,
          w.dataSync() as Float32Array,
          b ? (b.dataSync() as Float32Array) : null,
          c,
        );
        expect(y.shape).toEqual(ref.shape);
        close(y, ref.data);
      });
    },
  );

  it.each(CONVT_CASES.map((c, i) => [i, c] as const))(
    "convTranspose2d equals a direct scatter loop (case %i: stride, padding, dilation, groups, outputPadding)",
    (i, c) => {
      tidy(() => {
        const x = randn(c.x, { generator: new Generator(400 + i) });
        const w = randn(c.w, { generator: new Generator(500 + i) });
        const b = c.bias ? randn([c.w[1]! * c.groups], { generator: new Generator(600 + i) }) : null;
        const y = convTranspose2d(x, w, b, c);
        const ref = naiveConvT(
          x.dataSync() as Float32Array,
          w.dataSync() as Float32Array,
          b ? (b.dataSync() as Float32Array) : null,
          c,
        );
        expect(y.shape).toEqual(ref.shape);
        close(y, ref.data);
      });
    },
  );

  it("conv2d accepts an unbatched [C,H,W] input and a non-contiguous one", () => {
    tidy(() => {
      const x = randn([3, 6, 5], { generator: new Generator(1) });
      const w = randn([2, 3, 3, 3], { generator: new Generator(2) });
      const y = conv2d(x, w, null, { padding: 1 });
      expect(y.shape).toEqual([2, 6, 5]);
      close(y, conv2d(x.unsqueeze(0), w, null, { padding: 1 }).dataSync());
      const xt = randn([1, 3, 5, 6], { generator: new Generator(3) }).transpose(2, 3);
      close(conv2d(xt, w), conv2d(xt.contiguous(), w).dataSync());
      expect(convTranspose2d(x, randn([3, 2, 2, 2]), null, { stride: 2 }).shape).toEqual([2, 12, 10]);
    });
  });

  it("conv2d with kernel = stride is a patch embedding", () => {
    tidy(() => {
      // 4×4 image of 0..15, one 2×2 all-ones filter: each output is the sum of its patch.
      const x = tensor(
        Array.from({ length: 16 }, (_, i) => i),
        { shape: [1, 1, 4, 4] },
      );
      const w = tensor([1, 1, 1, 1], { shape: [1, 1, 2, 2] });
      expect(conv2d(x, w, null, { stride: 2 }).dataSync()).toEqual(new Float32Array([10, 18, 42, 50]));
    });
  });

  it("conv errors name the op, the shapes and the argument", () => {
    tidy(() => {
      const x = randn([2, 3, 8, 8]);
      expect(() => conv2d(x, randn([5, 4, 3, 3]))).toThrow(
        "conv2d: weight has 4 input channels per group but input has 3 channels (input [2,3,8,8], weight [5,4,3,3], groups 1)",
      );
      expect(() => conv2d(x, randn([4, 1, 3, 3]), null, { groups: 2 })).toThrow(
        /conv2d: groups 2 does not divide the 3 input channels/,
      );
      expect(() => conv2d(x, randn([4, 3, 9, 9]))).toThrow(/conv2d: output size \[0,0\] is too small/);
      expect(() => conv2d(x, randn([4, 3, 3, 3]), randn([3]))).toThrow(/conv2d: bias must have shape \[4\]/);
      expect(() => conv2d(x, randn([4, 3, 3, 3]), null, { stride: 0 })).toThrow(
        /conv2d: stride must be an integer >= 1/,
      );
      expect(() => conv2d(randn([8, 8]), randn([4, 3, 3, 3]))).toThrow(/conv2d: input must be \[N,C,H,W\]/);
      expect(() => convTranspose2d(x, randn([4, 2, 3, 3]))).toThrow(
        /convTranspose2d: weight has 4 input channels but input has 3/,
      );
      expect(() => convTranspose2d(x, randn([3, 2, 3, 3]), null, { stride: 2, outputPadding: 2 })).toThrow(
        /convTranspose2d: outputPadding 2 \(height\) must be smaller than stride 2 or dilation 1/,
      );
    });
  });

  it("conv leaves the live tensor count unchanged", () => {
    const x = randn([2, 4, 6, 6]);
    const w = randn([4, 2, 3, 3]);
    const b = randn([4]);
    for (const run of [
      () => conv2d(x, w, b, { padding: 1, stride: 2, groups: 2 }),
      () => convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }),
    ]) {
      const before = memory().numTensors;
      run().dispose();
      expect(memory().numTensors).toBe(before);
    }
    x.dispose();
    w.dispose();
    b.dispose();
  });
});

// Regression (conformance conv2d/convTranspose2d, seed 424242): the empty-batch path leaked its zeros.
describe("empty batches", () => {
  it("conv2d and convTranspose2d with a bias on an empty batch leave no tensor behind", () => {
    const x = T.zeros([0, 2, 3, 3]);
    const w = T.ones([4, 2, 1, 1]);
    const wt = T.ones([2, 4, 1, 1]);
    const b = T.ones([4]);
    const start = T.memory().numTensors;
    const y = T.conv2d(x, w, b);
    const z = T.convTranspose2d(x, wt, b);
    expect(y.shape).toEqual([0, 4, 3, 3]);
    expect(z.shape).toEqual([0, 4, 3, 3]);
    y.dispose();
    z.dispose();
    expect(T.memory().numTensors).toBe(start);
    T.dispose([x, w, wt, b]);
  });
});

describe("conv options", () => {
  it("both convs reject a groups value that is not a positive integer", () => {
    T.tidy(() => {
      const x = T.ones([1, 2, 3, 3]);
      expect(() => T.conv2d(x, T.ones([2, 2, 1, 1]), null, { groups: 0 })).toThrow(
        /conv2d: groups must be a positive integer, got 0/,
      );
      expect(() => T.convTranspose2d(x, T.ones([2, 2, 1, 1]), null, { groups: 1.5 })).toThrow(
        /convTranspose2d: groups must be a positive integer, got 1.5/,
      );
    });
  });
});
