/**
 * Attention tools: rollout against hand-computed 2-layer examples and a float64 host reference,
 * discardRatio, the cls grid, the heatmap, resamplePosEmbed as nn's resampler in DESIGN §6's
 * argument order, and Block's attention with and without returned maps on every backend.
 */
import { Generator, memory, randn, setBackend, softmax, type Tensor, tensor, tidy } from "@tessera/core";
import { resamplePositionEmbedding } from "@tessera/nn";
import { describe, expect, it } from "vitest";
import {
  attentionHeatmap,
  attentionRollout,
  clsAttentionGrid,
  resamplePosEmbed,
} from "../src/attention-tools.js";
import { Block } from "../src/blocks.js";
import { TEST_BACKENDS } from "./support/backends.js";

const arr = (t: Tensor) => Array.from(t.dataSync() as Float32Array);
const close = (got: number[], want: number[], atol: number) => {
  expect(got.length).toBe(want.length);
  for (const [i, g] of got.entries()) {
    expect(Math.abs(g - want[i]!), `element ${i}: ${g} vs ${want[i]}`).toBeLessThanOrEqual(atol);
  }
};
const maps2 = (a: number[][]) => tensor(a).reshape(1, 1, 2, 2);
const A1 = [
  [0.8, 0.2],
  [0.4, 0.6],
];
const A2 = [
  [0.5, 0.5],
  [0.1, 0.9],
];

/** Rollout in float64 on the host: fuse, drop the k lowest, ½(A+I), normalise rows, multiply. */
function hostRollout(
  maps: number[][][][][],
  fusion: "mean" | "max" | "min",
  discard: number,
  residual: boolean,
) {
  const [B, H, N] = [maps[0]!.length, maps[0]![0]!.length, maps[0]![0]![0]!.length];
  const out: number[][][] = [];
  for (let b = 0; b < B; b++) {
    let r: number[][] | null = null;
    for (const layer of maps) {
      const a = Array.from({ length: N }, (_, i) =>
        Array.from({ length: N }, (_, j) => {
          const hs = Array.from({ length: H }, (_, h) => layer[b]![h]![i]![j]!);
          return fusion === "mean"
            ? hs.reduce((s, v) => s + v, 0) / H
            : fusion === "max"
              ? Math.max(...hs)
              : Math.min(...hs);
        }),
      );
      const k = Math.floor(discard * N * N);
      const sorted = a.flat().sort((x, y) => x - y);
      const cut = k > 0 ? sorted[k]! : Number.NEGATIVE_INFINITY;
      for (const row of a) for (let j = 0; j < N; j++) if (row[j]! < cut) row[j] = 0;
      for (const [i, row] of a.entries()) {
        for (let j = 0; j < N; j++) if (residual) row[j] = 0.5 * row[j]! + (i === j ? 0.5 : 0);
        const s = row.reduce((x, y) => x + y, 0);
        for (let j = 0; j < N; j++) row[j] = row[j]! / s;
      }
      const prev = r as number[][] | null;
      r = prev ? a.map((row) => row.map((_, j) => row.reduce((s, v, m) => s + v * prev[m]![j]!, 0))) : a;
    }
    out.push(r!);
  }
  return out;
}

describe.each(TEST_BACKENDS)("attentionRollout on %s", (backend) => {
  it("equals the hand-computed product ½(A₂+I)·½(A₁+I) of a 2-layer, 2-token example", () => {
    setBackend(backend);
    tidy(() => {
      close(arr(attentionRollout([maps2(A1), maps2(A2)])), [0.725, 0.275, 0.235, 0.765], 1e-6);
      // Without the residual: A₂·A₁.
      close(
        arr(attentionRollout([maps2(A1), maps2(A2)], { addResidual: false })),
        [0.6, 0.4, 0.44, 0.56],
        1e-6,
      );
    });
  });

  it("fuses heads by mean, max or min and renormalises the rows", () => {
    setBackend(backend);
    tidy(() => {
      // Two heads: the identity and the swap. mean = ½ everywhere; max = 1 everywhere; min = 0.
      const layer = tensor([1, 0, 0, 1, 0, 1, 1, 0]).reshape(1, 2, 2, 2);
      close(arr(attentionRollout([layer], { headFusion: "mean" })), [0.75, 0.25, 0.25, 0.75], 1e-6);
      close(arr(attentionRollout([layer], { headFusion: "max" })), [2 / 3, 1 / 3, 1 / 3, 2 / 3], 1e-6);
      close(arr(attentionRollout([layer], { headFusion: "min" })), [1, 0, 0, 1], 1e-6);
    });
  });

  it("discardRatio 0.25 drops the lowest of 4 weights in each layer before the residual (hand-computed)", () => {
    setBackend(backend);
    tidy(() => {
      // A₁ loses 0.2 → rows [1,0],[0.2,0.8]; A₂ loses 0.1 → rows [0.75,0.25],[0,1]; product [[0.8,0.2],[0.2,0.8]].
      close(
        arr(attentionRollout([maps2(A1), maps2(A2)], { discardRatio: 0.25 })),
        [0.8, 0.2, 0.2, 0.8],
        1e-6,
      );
    });
  });

  it("discardRatio zeroes exactly ⌊r·N²⌋ weights of each sample's fused map, the lowest ones", () => {
    setBackend(backend);
    tidy(() => {
      const gen = new Generator(3);
      const m = softmax(randn([2, 3, 6, 6], { generator: gen }).mul(3), -1);
      const r = attentionRollout([m], { discardRatio: 0.4, addResidual: false }); // k = 14 of 36
      const vals = arr(r);
      for (let b = 0; b < 2; b++)
        expect(vals.slice(b * 36, (b + 1) * 36).filter((v) => v === 0).length).toBe(14);
      const ref = hostRollout([m.arraySync() as number[][][][]], "mean", 0.4, false).flat(2);
      close(vals, ref, 1e-6);
    });
  });

  it("rows of a 3-layer rollout sum to 1 and match a float64 host reference for every fusion", () => {
    setBackend(backend);
    tidy(() => {
      const gen = new Generator(5);
      const maps = [0, 1, 2].map(() => softmax(randn([2, 4, 5, 5], { generator: gen }).mul(2), -1));
      const host = maps.map((m) => m.arraySync() as number[][][][]);
      for (const headFusion of ["mean", "max", "min"] as const) {
        for (const discardRatio of [0, 0.3]) {
          const r = attentionRollout(maps, { headFusion, discardRatio });
          expect(r.shape).toEqual([2, 5, 5]);
          close(arr(r.sum(-1)), Array(10).fill(1), 1e-5);
          close(arr(r), hostRollout(host, headFusion, discardRatio, true).flat(2), 1e-5);
        }
      }
    });
  });

  it("frees every tensor it creates", () => {
    setBackend(backend);
    const maps = tidy(() => [0, 1].map(() => softmax(randn([1, 2, 5, 5]), -1)));
    const before = memory().numTensors;
    attentionRollout(maps, { discardRatio: 0.5 }).dispose();
    expect(memory().numTensors).toBe(before);
    for (const m of maps) m.dispose();
  });
});

describe("attention maps on the grid", () => {
  it("clsAttentionGrid reads the cls row over the patch tokens into a non-square [B,h,w] grid", () => {
    setBackend("js");
    tidy(() => {
      const r = tensor(Array.from({ length: 49 }, (_, i) => i)).reshape(1, 7, 7);
      const g = clsAttentionGrid(r, [2, 3]);
      expect(g.shape).toEqual([1, 2, 3]);
      expect(arr(g)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(() => clsAttentionGrid(r, [3, 3])).toThrow(/\[B,10,10\].*got \[1,7,7\]/);
    });
  });

  it("attentionHeatmap upsamples bilinearly and normalises to [0, 1] (hand-computed 2×2 → 4×4)", () => {
    setBackend("js");
    tidy(() => {
      // map(i, j) = j + 2i; bilinear 2 → 4 gives u = [0, .25, .75, 1] per axis, so up = u[j] + 2u[i] ∈ [0, 3].
      const h = attentionHeatmap(tensor([0, 1, 2, 3]).reshape(2, 2), 4);
      const u = [0, 0.25, 0.75, 1];
      expect(h.shape).toEqual([4, 4]);
      close(
        arr(h),
        u.flatMap((ui) => u.map((uj) => (uj + 2 * ui) / 3)),
        1e-6,
      );
      expect(arr(attentionHeatmap(tensor([0.5, 0.5, 0.5, 0.5]).reshape(1, 2, 2), [3, 5]))).toEqual(
        Array(15).fill(0),
      );
    });
  });
});

describe("resamplePosEmbed", () => {
  it("is nn's resamplePositionEmbedding with (newGrid, oldGrid, numPrefixTokens = 1, mode) on non-square grids", () => {
    setBackend("js");
    tidy(() => {
      const pe = randn([1, 1 + 2 * 3, 4], { generator: new Generator(1) });
      const out = resamplePosEmbed(pe, [4, 6], [2, 3]);
      expect(out.shape).toEqual([1, 25, 4]);
      expect(arr(out)).toEqual(arr(resamplePositionEmbedding(pe, [2, 3], [4, 6], { numPrefixTokens: 1 })));
      expect(arr(out.narrow(1, 0, 1))).toEqual(arr(pe.narrow(1, 0, 1)));
      const nearest = resamplePosEmbed(pe.narrow(1, 1, 6), [4, 6], [2, 3], 0, "nearest");
      expect(arr(nearest)).toEqual(
        arr(resamplePositionEmbedding(pe.narrow(1, 1, 6), [2, 3], [4, 6], { mode: "nearest" })),
      );
      expect(arr(resamplePosEmbed(pe, [2, 3], [2, 3]))).toEqual(arr(pe));
    });
  });
});

describe.each(TEST_BACKENDS)("Block attention with and without returned maps on %s", (backend) => {
  it("returnAttention gives the same output and gradients, and maps that are softmax(q·kᵀ/√d) rows", () => {
    setBackend(backend);
    const gen = new Generator(9);
    const block = new Block(32, 4, { generator: gen });
    const x = randn([2, 9, 32], { generator: gen });
    const before = memory().numTensors;
    tidy(() => {
      const plain = block.forward(x);
      const withMaps = block.forward(x, { returnAttention: true });
      expect(plain.attention).toBeNull();
      close(arr(withMaps.output), arr(plain.output), 1e-5);

      const a = withMaps.attention!;
      expect(a.shape).toEqual([2, 4, 9, 9]);
      expect(Math.min(...arr(a))).toBeGreaterThanOrEqual(0);
      close(arr(a.sum(-1)), Array(2 * 4 * 9).fill(1), 1e-5);
      // [B,N,3D] → q, k [B,H,N,8]
      const qkv = block.attn.qkv
        .forward(block.norm1.forward(x))
        .reshape(2, 9, 3, 4, 8)
        .permute(2, 0, 3, 1, 4);
      const logits = qkv
        .select(0, 0)
        .matmul(qkv.select(0, 1).mT)
        .mul(1 / Math.sqrt(8));
      close(arr(a), arr(softmax(logits, -1)), 1e-5);

      const grads = (opts: { returnAttention?: boolean }) => {
        block.zeroGrad();
        const out = block.forward(x, opts).output;
        out.mul(out).sum().backward();
        return [...block.parameters()].map((p) => arr(p.grad!));
      };
      const g0 = grads({});
      const g1 = grads({ returnAttention: true });
      for (const [i, g] of g0.entries()) close(g1[i]!, g, 1e-5 * Math.max(1, ...g.map(Math.abs)));
      block.zeroGrad();
    });
    expect(memory().numTensors).toBe(before);
    block.dispose();
    x.dispose();
  });
});
