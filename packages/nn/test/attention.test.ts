import {
  Generator,
  maskedFill,
  memory,
  ones,
  randn,
  sum,
  type Tensor,
  tensor,
  tidy,
  triu,
  zeros,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import { MultiheadAttention } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { type ModuleCase, moduleCase, runModuleCase } from "./support/torch-module.js";

type Forward = (
  m: MultiheadAttention,
  x: Record<string, Tensor>,
) => ReturnType<MultiheadAttention["forward"]>;
const mha = (call: Forward) =>
  moduleCase<MultiheadAttention>({
    build: (c) =>
      new MultiheadAttention(c.embed_dim as number, c.num_heads as number, {
        batchFirst: c.batch_first as boolean | undefined,
        bias: c.bias as boolean | undefined,
        kdim: c.kdim as number | undefined,
        vdim: c.vdim as number | undefined,
      }),
    forward: (m, x) => {
      const { output, weights } = call(m, x);
      return { y: output, attn_weights: weights! };
    },
  });

/** The shared golden cases and the local ones from scripts/gen-attention-positional-fixtures.py. */
const CASES: Record<string, ModuleCase> = {
  mha_self_avg: mha((m, x) => m.forward(x.query!, x.query!, x.query!)),
  mha_cross_noavg: mha((m, x) => m.forward(x.query!, x.key!, x.value!, { averageAttnWeights: false })),
  mha_key_padding_mask: mha((m, x) =>
    m.forward(x.query!, x.key!, x.value!, { keyPaddingMask: x.key_padding_mask }),
  ),
  mha_attn_mask_float: mha((m, x) => m.forward(x.query!, x.key!, x.value!, { attnMask: x.attn_mask })),
  mha_causal_bool_mask: mha((m, x) => m.forward(x.query!, x.query!, x.query!, { attnMask: x.attn_mask })),
  mha_seq_first: mha((m, x) => m.forward(x.query!, x.query!, x.query!)),
  mha_kdim_vdim: mha((m, x) => m.forward(x.query!, x.key!, x.value!)),
  mha_nobias_unbatched: mha((m, x) => m.forward(x.query!, x.key!, x.key!, { averageAttnWeights: false })),
  mha_mask3d_kpm: mha((m, x) =>
    m.forward(x.query!, x.key!, x.value!, {
      attnMask: x.attn_mask,
      keyPaddingMask: x.key_padding_mask,
      averageAttnWeights: false,
    }),
  ),
};

describe.each(TEST_BACKENDS)("MultiheadAttention matches PyTorch on %s", (backend) => {
  for (const [name, spec] of Object.entries(CASES)) {
    it(`${name}: outputs, weights, input and parameter gradients`, () => {
      const r = runModuleCase(name, spec, backend);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBeGreaterThan(5);
    });
  }
});

function keysAndShapes(m: MultiheadAttention): [string, number[]][] {
  return [...m.stateDict()].map(([k, t]) => [k, [...t.shape]]);
}

describe("MultiheadAttention parameters", () => {
  it("packed projection keys and shapes equal PyTorch's", () => {
    const m = new MultiheadAttention(8, 2);
    expect(keysAndShapes(m)).toEqual([
      ["in_proj_weight", [24, 8]],
      ["in_proj_bias", [24]],
      ["out_proj.weight", [8, 8]],
      ["out_proj.bias", [8]],
    ]);
    m.dispose();
  });

  it("kdim/vdim give PyTorch's separate q/k/v projection keys", () => {
    const m = new MultiheadAttention(8, 2, { kdim: 6, vdim: 5 });
    expect(keysAndShapes(m)).toEqual([
      ["q_proj_weight", [8, 8]],
      ["k_proj_weight", [8, 6]],
      ["v_proj_weight", [8, 5]],
      ["in_proj_bias", [24]],
      ["out_proj.weight", [8, 8]],
      ["out_proj.bias", [8]],
    ]);
    m.dispose();
  });

  it("bias false drops in_proj_bias and out_proj.bias", () => {
    const m = new MultiheadAttention(8, 2, { bias: false });
    expect(keysAndShapes(m).map(([k]) => k)).toEqual(["in_proj_weight", "out_proj.weight"]);
    m.dispose();
  });

  it("initialises like PyTorch: xavier-uniform in_proj_weight, zero biases, Linear out_proj weight", () => {
    const E = 64;
    const m = new MultiheadAttention(E, 4, { generator: new Generator(3) });
    const w = m.inProjWeight!.dataSync() as Float32Array;
    const bound = Math.sqrt(6 / (E + 3 * E));
    let sq = 0;
    let max = 0;
    for (const v of w) {
      max = Math.max(max, Math.abs(v));
      sq += v * v;
    }
    expect(max).toBeLessThanOrEqual(bound);
    // U(-b, b) has variance b²/3; 12288 draws put the sample within a few percent.
    expect(Math.sqrt(sq / w.length)).toBeCloseTo(bound / Math.sqrt(3), 2);
    expect([...(m.inProjBias!.dataSync() as Float32Array)].every((v) => v === 0)).toBe(true);
    expect([...(m.outProj.bias!.dataSync() as Float32Array)].every((v) => v === 0)).toBe(true);
    const ow = m.outProj.weight.dataSync() as Float32Array;
    expect(Math.max(...ow.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(E));
    m.dispose();
  });

  it("the same generator seed gives the same parameters", () => {
    const a = new MultiheadAttention(16, 4, { kdim: 8, generator: new Generator(11) });
    const b = new MultiheadAttention(16, 4, { kdim: 8, generator: new Generator(11) });
    for (const [k, t] of a.stateDict()) expect(t.dataSync()).toEqual(b.stateDict().get(k)!.dataSync());
    a.dispose();
    b.dispose();
  });
});

describe("MultiheadAttention errors name the argument and shapes", () => {
  it("embedDim not divisible by numHeads", () => {
    expect(() => new MultiheadAttention(10, 3)).toThrow(
      "MultiheadAttention: embedDim 10 must be divisible by numHeads 3",
    );
  });

  it("mask shapes", () => {
    const m = new MultiheadAttention(8, 2, { batchFirst: true });
    tidy(() => {
      const q = randn([2, 3, 8]);
      const k = randn([2, 5, 8]);
      expect(() => m.forward(q, k, k, { attnMask: zeros([3, 4]) })).toThrow(
        "MultiheadAttention.forward: the 2-D attnMask is [3,4] but should be [3,5] (query length, key length)",
      );
      expect(() => m.forward(q, k, k, { attnMask: zeros([2, 3, 5]) })).toThrow(
        "MultiheadAttention.forward: the 3-D attnMask is [2,3,5] but should be [4,3,5] (batch·numHeads, query length, key length)",
      );
      expect(() => m.forward(q, k, k, { attnMask: zeros([1, 1, 3, 5]) })).toThrow(
        "attnMask must be 2-D or 3-D, got [1,1,3,5]",
      );
      expect(() => m.forward(q, k, k, { keyPaddingMask: zeros([2, 3], { dtype: "bool" }) })).toThrow(
        "MultiheadAttention.forward: keyPaddingMask is [2,3] but should be [2,5] (batch, key length)",
      );
      expect(() => m.forward(q, k, k, { attnMask: zeros([3, 5], { dtype: "int32" }) })).toThrow(
        "attnMask must be bool or float32 like query, got int32",
      );
    });
    m.dispose();
  });

  it("input shapes", () => {
    const m = new MultiheadAttention(8, 2, { batchFirst: true });
    tidy(() => {
      expect(() => m.forward(randn([2, 3, 6]), randn([2, 3, 8]), randn([2, 3, 8]))).toThrow(
        "MultiheadAttention.forward: query must have 8 features in its last dim (query [2,3,6], key [2,3,8], value [2,3,8])",
      );
      expect(() => m.forward(randn([2, 3, 8]), randn([3, 8]), randn([3, 8]))).toThrow(
        "query, key and value must all be 3-D (batched) or all 2-D",
      );
      expect(() => m.forward(randn([2, 3, 8]), randn([2, 4, 8]), randn([2, 5, 8]))).toThrow(
        "query, key and value must share the batch size and key and value the length",
      );
    });
    m.dispose();
  });
});

describe.each(TEST_BACKENDS)("MultiheadAttention behaviour on %s", (backend) => {
  const build = (opts: ConstructorParameters<typeof MultiheadAttention>[2] = {}) =>
    new MultiheadAttention(16, 4, { batchFirst: true, generator: new Generator(5), ...opts }).to(backend);

  it("attention dropout is reproducible with a seeded generator and equals eval weights scaled or zeroed", () => {
    const p = 0.3;
    const a = build({ dropout: p, generator: new Generator(7) });
    const b = build({ dropout: p, generator: new Generator(7) });
    tidy(() => {
      const x = randn([2, 6, 16], { backend, generator: new Generator(1) });
      const ra = a.forward(x, x, x, { averageAttnWeights: false });
      const rb = b.forward(x, x, x, { averageAttnWeights: false });
      expect(ra.output.dataSync()).toEqual(rb.output.dataSync());
      const wTrain = ra.weights!.dataSync() as Float32Array;
      a.eval();
      const wEval = a.forward(x, x, x, { averageAttnWeights: false }).weights!.dataSync() as Float32Array;
      let dropped = 0;
      for (let i = 0; i < wTrain.length; i++) {
        if (wTrain[i] === 0) dropped++;
        else expect(wTrain[i]).toBeCloseTo(wEval[i]! / (1 - p), 5);
      }
      // 288 weights at p = 0.3: the dropped share is well inside (0.15, 0.45).
      expect(dropped / wTrain.length).toBeGreaterThan(0.15);
      expect(dropped / wTrain.length).toBeLessThan(0.45);
    });
    a.dispose();
    b.dispose();
  });

  it("attention dropout is off in eval mode and with dropout 0 in training", () => {
    const a = build({ dropout: 0.5 });
    const b = build();
    b.loadStateDict(a.stateDict());
    a.eval();
    tidy(() => {
      const x = randn([2, 6, 16], { backend });
      expect(a.forward(x, x, x).output.dataSync()).toEqual(b.forward(x, x, x).output.dataSync());
    });
    a.dispose();
    b.dispose();
  });

  it("needWeights false gives the same output and null weights", () => {
    const m = build();
    tidy(() => {
      const x = randn([2, 6, 16], { backend });
      const withW = m.forward(x, x, x);
      const noW = m.forward(x, x, x, { needWeights: false });
      expect(noW.weights).toBeNull();
      expectClose(noW.output, withW.output, 1e-6);
    });
    m.dispose();
  });

  it("isCausal equals a bool causal attnMask (true = not allowed)", () => {
    const m = build();
    tidy(() => {
      const x = randn([2, 6, 16], { backend });
      const mask = triu(ones([6, 6], { dtype: "bool", backend }), 1);
      const a = m.forward(x, x, x, { isCausal: true });
      const b = m.forward(x, x, x, { attnMask: mask });
      expectClose(a.output, b.output, 1e-6);
      expectClose(a.weights!, b.weights!, 1e-6);
      const w = a.weights!.dataSync() as Float32Array;
      expect(w[1]).toBe(0); // query 0 never sees key 1
    });
    m.dispose();
  });

  it("a float keyPaddingMask (-inf = ignore) equals the bool one", () => {
    const m = build();
    tidy(() => {
      const q = randn([2, 4, 16], { backend });
      const k = randn([2, 5, 16], { backend });
      const kpm = tensor(
        [
          [false, false, true, false, true],
          [false, true, false, false, false],
        ],
        { backend },
      );
      const kpf = maskedFill(zeros([2, 5], { backend }), kpm, Number.NEGATIVE_INFINITY);
      // MHA's bool attnMask: true = not allowed; here query i may not see keys j >= i + 3.
      const notAllowed = triu(ones([4, 5], { dtype: "bool", backend }), 3);
      const a = m.forward(q, k, k, {
        keyPaddingMask: kpm,
        attnMask: notAllowed,
      });
      const b = m.forward(q, k, k, {
        keyPaddingMask: kpf,
        attnMask: notAllowed,
      });
      expectClose(a.output, b.output, 1e-6);
      expectClose(a.weights!, b.weights!, 1e-6);
      expect((a.weights!.dataSync() as Float32Array)[2]).toBe(0); // batch 0, query 0, key 2 is padding
    });
    m.dispose();
  });

  it("unbatched input equals a batch of one", () => {
    const m = build();
    tidy(() => {
      const q = randn([4, 16], { backend });
      const k = randn([5, 16], { backend });
      const a = m.forward(q, k, k, { averageAttnWeights: false });
      const b = m.forward(q.unsqueeze(0), k.unsqueeze(0), k.unsqueeze(0), { averageAttnWeights: false });
      expect(a.output.shape).toEqual([4, 16]);
      expect(a.weights!.shape).toEqual([4, 4, 5]);
      expectClose(a.output, b.output.squeeze(0), 1e-6);
    });
    m.dispose();
  });

  it("leaves no tensors behind after forward and backward (with dropout, cross-attention, masks)", () => {
    const m = build({ dropout: 0.2, kdim: 8, vdim: 12 });
    const q = randn([2, 4, 16], { backend });
    const k = randn([2, 5, 8], { backend });
    const v = randn([2, 5, 12], { backend });
    const kpm = tensor(
      [
        [false, false, true, false, true],
        [false, true, false, false, false],
      ],
      { backend },
    );
    q.requiresGrad = true;
    const before = memory().numTensors;
    for (let step = 0; step < 3; step++) {
      for (const training of [true, false]) {
        m.train(training);
        tidy(() => {
          const { output, weights } = m.forward(q, k, v, { keyPaddingMask: kpm });
          sum(output).add(sum(weights!)).backward();
        });
        m.zeroGrad();
        q.grad = null;
      }
    }
    expect(memory().numTensors).toBe(before);
    for (const t of [q, k, v, kpm]) t.dispose();
    m.dispose();
  });
});

describe("MultiheadAttention across backends", () => {
  it.runIf(TEST_BACKENDS.length > 1)(
    "seeded attention dropout drops the same weights on js and native",
    () => {
      const outs = TEST_BACKENDS.map((backend) => {
        const m = new MultiheadAttention(16, 4, {
          batchFirst: true,
          dropout: 0.3,
          generator: new Generator(5),
        });
        m.to(backend);
        const w = tidy(() => {
          const x = randn([2, 6, 16], { backend, generator: new Generator(1) });
          return m.forward(x, x, x, { averageAttnWeights: false }).weights!.dataSync() as Float32Array;
        });
        m.dispose();
        return w;
      });
      const [a, b] = outs as [Float32Array, Float32Array];
      for (let i = 0; i < a.length; i++) {
        expect(a[i] === 0).toBe(b[i] === 0);
        expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5);
      }
    },
  );
});

function expectClose(a: Tensor, b: Tensor, atol: number): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync() as Float32Array;
  const y = b.dataSync() as Float32Array;
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  expect(worst).toBeLessThanOrEqual(atol);
}
