import { beforeAll, describe, expect, it } from "vitest";
import {
  Generator,
  memory,
  randn,
  scaledDotProductAttention,
  setBackend,
  tensor,
  tidy,
} from "../src/index.js";
import { expectClose } from "./helpers.js";

const close = expectClose;

/** Direct attention of one [S, D] head with an optional additive mask. */
function naive(q: number[][], k: number[][], v: number[][], mask?: number[][]): number[] {
  const scale = 1 / Math.sqrt(q[0]!.length);
  const out: number[] = [];
  for (let i = 0; i < q.length; i++) {
    const logits = k.map(
      (kr, j) => kr.reduce((s, x, c) => s + x * q[i]![c]!, 0) * scale + (mask ? mask[i]![j]! : 0),
    );
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const z = e.reduce((a, b) => a + b, 0);
    for (let c = 0; c < v[0]!.length; c++) out.push(e.reduce((s, w, j) => s + (w / z) * v[j]![c]!, 0));
  }
  return out;
}

const Q = [
  [1, 0, 2],
  [0.5, -1, 1],
];
const K = [
  [1, 1, 0],
  [0, 2, -1],
  [-1, 0, 1],
];
const V = [
  [1, 2],
  [3, -1],
  [0, 5],
];

describe.each(["js", "js-prim"])("attention on %s", (backend) => {
  beforeAll(() => setBackend(backend));

  it("output equals softmax(q·kᵀ/√d)·v", () => {
    tidy(() => {
      close(scaledDotProductAttention(tensor([Q]), tensor([K]), tensor([V])), naive(Q, K, V));
    });
  });

  it("weights are post-softmax rows that sum to one", () => {
    tidy(() => {
      const { output, weights } = scaledDotProductAttention(tensor([Q]), tensor([K]), tensor([V]), {
        returnWeights: true,
      });
      expect(weights.shape).toEqual([1, 2, 3]);
      expect(output.shape).toEqual([1, 2, 2]);
      close(weights.sum(-1), [1, 1]);
    });
  });

  it("a causal query attends only to keys at or before its position", () => {
    tidy(() => {
      const y = scaledDotProductAttention(tensor([Q]), tensor([K]), tensor([V]), { isCausal: true });
      const inf = Number.NEGATIVE_INFINITY;
      close(
        y,
        naive(Q, K, V, [
          [0, inf, inf],
          [0, 0, inf],
        ]),
      );
      close(y.select(1, 0), V[0]!);
    });
  });

  it("a bool attnMask (true = may attend) equals the float mask with -inf", () => {
    tidy(() => {
      const allowed = tensor([
        [true, false, true],
        [false, true, true],
      ]);
      const inf = Number.NEGATIVE_INFINITY;
      const fm = [
        [0, inf, 0],
        [inf, 0, 0],
      ];
      const yb = scaledDotProductAttention(tensor([Q]), tensor([K]), tensor([V]), { attnMask: allowed });
      close(yb, naive(Q, K, V, fm));
      close(
        scaledDotProductAttention(tensor([Q]), tensor([K]), tensor([V]), { attnMask: tensor(fm) }),
        yb.dataSync(),
      );
    });
  });

  it("fully masked query rows are NaN in output and weights", () => {
    tidy(() => {
      const allowed = tensor([
        [false, false, false],
        [true, true, true],
      ]);
      const { output, weights } = scaledDotProductAttention(tensor([Q]), tensor([K]), tensor([V]), {
        attnMask: allowed,
        returnWeights: true,
      });
      const nan = Number.NaN;
      close(output, [nan, nan, ...naive(Q, K, V).slice(2)]);
      close(weights.select(1, 0), [nan, nan, nan]);
    });
  });

  it("keyPaddingMask [B, Sk] ignores keys of each batch element in every head", () => {
    tidy(() => {
      const g = new Generator(4);
      const q = randn([2, 3, 4, 5], { generator: g });
      const k = randn([2, 3, 6, 5], { generator: g });
      const v = randn([2, 3, 6, 7], { generator: g });
      const pad = tensor([
        [false, false, false, false, true, true],
        [false, true, false, false, false, false],
      ]);
      const y = scaledDotProductAttention(q, k, v, { keyPaddingMask: pad });
      const allowed = pad.logicalNot().reshape([2, 1, 1, 6]);
      close(y, scaledDotProductAttention(q, k, v, { attnMask: allowed }).dataSync());
      // Padded keys get exactly zero weight.
      const { weights } = scaledDotProductAttention(q, k, v, { keyPaddingMask: pad, returnWeights: true });
      close(weights.slice(3, 4, 6).select(0, 0).reshape([-1]), new Array(3 * 4 * 2).fill(0));
    });
  });

  it("batch dims broadcast and a custom scale is applied", () => {
    tidy(() => {
      const g = new Generator(5);
      const q = randn([2, 3, 4, 8], { generator: g });
      const k = randn([1, 3, 5, 8], { generator: g });
      const v = randn([5, 6], { generator: g });
      const y = scaledDotProductAttention(q, k, v, { scale: 0.5 });
      expect(y.shape).toEqual([2, 3, 4, 6]);
      const yExpanded = scaledDotProductAttention(
        q,
        k.expand([2, 3, 5, 8]).contiguous(),
        v.expand([2, 3, 5, 6]).contiguous(),
        {
          scale: 0.5,
        },
      );
      close(y, yExpanded.dataSync());
    });
  });

  it("attention errors name the op, the shapes and the argument", () => {
    tidy(() => {
      const q = randn([2, 4, 8]);
      const k = randn([2, 5, 8]);
      const v = randn([2, 5, 3]);
      expect(() => scaledDotProductAttention(q, randn([2, 5, 7]), v)).toThrow(
        "scaledDotProductAttention: q has head dim 8 but k has 7 (q [2,4,8], k [2,5,7], v [2,5,3])",
      );
      expect(() => scaledDotProductAttention(q, k, randn([2, 6, 3]))).toThrow(/k has 5 keys but v has 6/);
      expect(() => scaledDotProductAttention(q, k, v, { attnMask: randn([3, 5]) })).toThrow(
        /attnMask \[3,5\] does not broadcast/,
      );
      expect(() => scaledDotProductAttention(q, k, v, { keyPaddingMask: tensor([true, false]) })).toThrow(
        /keyPaddingMask must be bool \[2, 5\] or \[5\]/,
      );
      expect(() => scaledDotProductAttention(q, k, v, { dropoutP: 0.1 })).toThrow(
        /dropoutP 0.1 is not supported yet/,
      );
    });
  });

  it("attention leaves the live tensor count unchanged", () => {
    const q = randn([2, 2, 4, 8]);
    const kp = tensor([
      [false, true, false, false],
      [false, false, false, false],
    ]);
    const am = tensor([true, true, false, true]);
    const before = memory().numTensors;
    scaledDotProductAttention(q, q, q, { isCausal: true, keyPaddingMask: kp }).dispose();
    const r = scaledDotProductAttention(q, q, q, { attnMask: am, returnWeights: true });
    r.output.dispose();
    r.weights.dispose();
    expect(memory().numTensors).toBe(before);
    q.dispose();
    kp.dispose();
    am.dispose();
  });
});

describe("fused attention equals composite attention", () => {
  it("js and js-prim agree with masks, padding, causal flag and weights", () => {
    tidy(() => {
      setBackend("js");
      const g = new Generator(21);
      const q = randn([2, 3, 9, 16], { generator: g });
      const k = randn([2, 3, 11, 16], { generator: g });
      const v = randn([2, 3, 11, 12], { generator: g });
      const mask = randn([9, 11], { generator: g });
      const pad = tensor([
        [false, false, false, false, false, false, false, false, false, true, true],
        [true, false, false, false, false, false, false, false, false, false, false],
      ]);
      for (const opts of [
        {},
        { isCausal: true },
        { attnMask: mask },
        { keyPaddingMask: pad, isCausal: true },
      ]) {
        const a = scaledDotProductAttention(q, k, v, { ...opts, returnWeights: true });
        const b = scaledDotProductAttention(q.to("js-prim"), k.to("js-prim"), v.to("js-prim"), {
          ...opts,
          attnMask: "attnMask" in opts ? mask.to("js-prim") : undefined,
          keyPaddingMask: "keyPaddingMask" in opts ? pad.to("js-prim") : undefined,
          returnWeights: true,
        });
        close(a.output, b.output.dataSync(), 1e-4);
        close(a.weights, b.weights.dataSync(), 1e-4);
      }
    });
  });
});
