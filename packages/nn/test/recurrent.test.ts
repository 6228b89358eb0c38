import { noGrad } from "@tessera/autograd";
import { cat, dropout, Generator, memory, mul, randn, sum, type Tensor, tidy, zeros } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { GRU, LSTM, type RecurrentOptions } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";
import {
  fromJson,
  type JsonTensor,
  loadJsonFixture,
  mismatch,
  type Tolerance,
} from "./support/json-cases.js";
import { type ModuleCase, moduleCase, runModuleCase } from "./support/torch-module.js";

const opts = (c: Record<string, unknown>): RecurrentOptions => ({
  numLayers: c.num_layers as number | undefined,
  batchFirst: c.batch_first as boolean | undefined,
  bidirectional: c.bidirectional as boolean | undefined,
  bias: c.bias as boolean | undefined,
  dropout: c.dropout as number | undefined,
});

// Each fixture's `call` metadata: `y, (h_n, c_n) = m(x)` or `m(x, (h0, c0))`; GRU `y, h_n = m(x)` or `m(x, h0)`.
const lstmCase = moduleCase<LSTM>({
  build: (c) => new LSTM(c.input_size as number, c.hidden_size as number, opts(c)),
  forward: (m, x) => {
    const r = m.forward(x.x!, x.h0 && x.c0 ? [x.h0, x.c0] : undefined);
    return { y: r.output, h_n: r.hN, c_n: r.cN };
  },
});
const gruCase = moduleCase<GRU>({
  build: (c) => new GRU(c.input_size as number, c.hidden_size as number, opts(c)),
  forward: (m, x) => {
    const r = m.forward(x.x!, x.h0);
    return { y: r.output, h_n: r.hN };
  },
});
const CASES: Record<string, ModuleCase> = {
  lstm: lstmCase,
  lstm_h0c0: lstmCase,
  gru: gruCase,
  gru_h0: gruCase,
};

interface RecurrentJsonCase {
  name: string;
  module: "LSTM" | "GRU";
  config: Record<string, unknown>;
  mode: "train" | "eval";
  inputs: Record<string, JsonTensor>;
  params: Record<string, JsonTensor>;
  probes: Record<string, JsonTensor>;
  outputs: Record<string, JsonTensor>;
  grads: { input: Record<string, JsonTensor>; param: Record<string, JsonTensor> };
  tolerance: { forward: Tolerance; grad: Tolerance };
}
const local = loadJsonFixture<{ cases: RecurrentJsonCase[] }>("recurrent-cases.json").cases;

/** Runs one case of recurrent-cases.json (scripts/make-recurrent-fixtures.py) and returns the mismatches. */
function runJsonCase(c: RecurrentJsonCase, backend: string): string[] {
  const spec = c.module === "LSTM" ? lstmCase : gruCase;
  const failures: string[] = [];
  const before = memory().numTensors;
  const m = spec.build(c.config);
  try {
    m.to(backend).train(c.mode === "train");
    tidy(() => {
      const params = new Map(Object.entries(c.params).map(([k, v]) => [k, fromJson(v, backend)]));
      m.loadStateDict(params, { strict: true });
      const inputs: Record<string, Tensor> = {};
      for (const [k, v] of Object.entries(c.inputs)) inputs[k] = fromJson(v, backend).requiresGrad_();
      const out = spec.forward(m, inputs);
      for (const [k, g] of Object.entries(c.outputs))
        failures.push(mismatch(k, out[k], g, c.tolerance.forward) ?? "");
      let loss: Tensor | null = null;
      for (const [k, p] of Object.entries(c.probes)) {
        const term = sum(mul(out[k]!, fromJson(p, backend)));
        loss = loss ? loss.add(term) : term;
      }
      loss!.backward();
      for (const [k, g] of Object.entries(c.grads.input)) {
        failures.push(mismatch(`grad.input.${k}`, inputs[k]!.grad, g, c.tolerance.grad) ?? "");
        inputs[k]!.grad = null;
      }
      const own = new Map(m.namedParameters());
      for (const [k, g] of Object.entries(c.grads.param)) {
        failures.push(mismatch(`grad.param.${k}`, own.get(k)?.grad, g, c.tolerance.grad) ?? "");
      }
    });
  } finally {
    m.dispose();
  }
  const after = memory().numTensors;
  if (after !== before) failures.push(`live tensors went from ${before} to ${after}`);
  return failures.filter((f) => f !== "");
}

describe.each(TEST_BACKENDS)("PyTorch parity on %s", (backend) => {
  for (const [name, spec] of Object.entries(CASES)) {
    it(`${name} matches torch (forward, input and parameter gradients)`, () => {
      const r = runModuleCase(name, spec, backend);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBeGreaterThan(2);
    });
  }
  for (const c of local) {
    it(`${c.name} matches local torch (${c.module} ${JSON.stringify(c.config)}, ${c.mode})`, () => {
      expect(runJsonCase(c, backend)).toEqual([]);
    });
  }
});

describe("LSTM and GRU", () => {
  it("state-dict keys and order equal PyTorch's, with _reverse for the backward direction", () => {
    for (const c of local) {
      const m = (c.module === "LSTM" ? lstmCase : gruCase).build(c.config);
      expect([...m.stateDict().keys()], c.name).toEqual(Object.keys(c.params));
      m.dispose();
    }
  });

  it("every parameter starts from U(-1/sqrt(hidden), 1/sqrt(hidden)) and a seeded generator repeats it", () => {
    const make = () => new LSTM(8, 16, { numLayers: 2, bidirectional: true, generator: new Generator(5) });
    const a = make();
    const b = make();
    const bound = 1 / Math.sqrt(16);
    for (const [key, p] of a.namedParameters()) {
      const v = p.dataSync() as Float32Array;
      expect(Math.max(...v), key).toBeLessThanOrEqual(bound);
      expect(Math.min(...v), key).toBeGreaterThanOrEqual(-bound);
      expect(v).toEqual(b.getParameter(key)!.dataSync());
    }
    // All 4 weight_hh matrices together: 4096 draws, mean 0 and variance bound²/3 within ~5 sd.
    const all = [...a.namedParameters()]
      .filter(([k]) => k.startsWith("weight_hh"))
      .flatMap(([, p]) => [...p.dataSync()]);
    const mean = all.reduce((s, v) => s + v, 0) / all.length;
    const variance = all.reduce((s, v) => s + (v - mean) ** 2, 0) / all.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance / ((bound * bound) / 3) - 1)).toBeLessThan(0.1);
    a.dispose();
    b.dispose();
  });

  it("prints like PyTorch", () => {
    const l = new LSTM(3, 4, {
      numLayers: 2,
      batchFirst: true,
      dropout: 0.5,
      bidirectional: true,
      bias: false,
    });
    expect(l.toString()).toBe(
      "LSTM(3, 4, num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)",
    );
    const g = new GRU(16, 32);
    expect(g.toString()).toBe("GRU(16, 32)");
    l.dispose();
    g.dispose();
  });

  it("continuing from the final states equals one run over the whole sequence", () => {
    const lstm = new LSTM(3, 5, { numLayers: 2, bidirectional: false, generator: new Generator(1) });
    const gru = new GRU(3, 5, { numLayers: 2, generator: new Generator(2) });
    noGrad(() =>
      tidy(() => {
        const x = randn([6, 2, 3], { generator: new Generator(3) });
        const [x1, x2] = [x.slice(0, 0, 4), x.slice(0, 4, 6)];
        const whole = lstm.forward(x);
        const first = lstm.forward(x1);
        const second = lstm.forward(x2, [first.hN, first.cN]);
        expectClose(cat([first.output, second.output], 0), whole.output, 1e-6);
        expectClose(second.hN, whole.hN, 1e-6);
        expectClose(second.cN, whole.cN, 1e-6);
        const gWhole = gru.forward(x);
        const gFirst = gru.forward(x1);
        const gSecond = gru.forward(x2, gFirst.hN);
        expectClose(cat([gFirst.output, gSecond.output], 0), gWhole.output, 1e-6);
        expectClose(gSecond.hN, gWhole.hN, 1e-6);
      }),
    );
    lstm.dispose();
    gru.dispose();
  });

  it("in training, dropout is applied between layers and not after the last one", () => {
    // A 3-layer LSTM with dropout equals three 1-layer LSTMs with dropout(0.5) on the outputs of the first
    // two, with masks drawn from the same stream.
    const gen = new Generator(11);
    const stacked = new LSTM(3, 4, { numLayers: 3, dropout: 0.5, bidirectional: true, generator: gen });
    const layers = [0, 1, 2].map((k) => new LSTM(k === 0 ? 3 : 8, 4, { bidirectional: true }));
    const sd = stacked.stateDict();
    layers.forEach((l, k) => {
      const own = new Map(
        [...l.stateDict().keys()].map((key) => [key, sd.get(key.replace("_l0", `_l${k}`))!]),
      );
      l.loadStateDict(own);
    });
    noGrad(() =>
      tidy(() => {
        const x = randn([5, 2, 3], { generator: new Generator(4) });
        stacked.train();
        const masks = new Generator().setState(gen.getState()); // where the masks start, after the init draws
        const whole = stacked.forward(x);
        let input = x;
        const hs: Tensor[] = [];
        layers.forEach((l, k) => {
          if (k > 0) input = dropout(input, 0.5, true, { generator: masks });
          const r = l.forward(input);
          hs.push(r.hN);
          input = r.output;
        });
        expectClose(whole.output, input, 1e-6);
        expectClose(whole.hN, cat(hs, 0), 1e-6);
        stacked.eval();
        const evalOut = stacked.forward(x).output;
        expect(maxAbsDiff(evalOut, whole.output)).toBeGreaterThan(1e-3);
        expectClose(stacked.forward(x).output, evalOut, 0);
      }),
    );
    stacked.dispose();
    for (const l of layers) l.dispose();
  });

  it("batchFirst gives the time-major result transposed; hN stays [layers·dirs, B, H]", () => {
    const a = new GRU(3, 4, { numLayers: 2, bidirectional: true, generator: new Generator(8) });
    const b = new GRU(3, 4, {
      numLayers: 2,
      bidirectional: true,
      batchFirst: true,
      generator: new Generator(8),
    });
    noGrad(() =>
      tidy(() => {
        const x = randn([5, 2, 3], { generator: new Generator(9) });
        const ra = a.forward(x);
        const rb = b.forward(x.transpose(0, 1));
        expect(rb.output.shape).toEqual([2, 5, 8]);
        expect(rb.hN.shape).toEqual([4, 2, 4]);
        expectClose(rb.output.transpose(0, 1), ra.output, 0);
        expectClose(rb.hN, ra.hN, 0);
      }),
    );
    a.dispose();
    b.dispose();
  });

  it("the live tensor count does not grow with the sequence length (per-step temporaries are freed)", () => {
    const lstm = new LSTM(4, 8, { numLayers: 2, bidirectional: true });
    const gru = new GRU(4, 8, { numLayers: 2 });
    const growth = (m: LSTM | GRU, T: number) =>
      noGrad(() => {
        const x = randn([T, 3, 4]);
        const before = memory().numTensors;
        const r = m.forward(x);
        const after = memory().numTensors;
        for (const t of Object.values(r)) t.dispose();
        x.dispose();
        return after - before;
      });
    expect(growth(lstm, 2)).toBe(3); // output, hN, cN
    expect(growth(lstm, 40)).toBe(3);
    expect(growth(gru, 40)).toBe(2);
    // With gradients: after backward and disposing, nothing is left.
    const before = memory().numTensors;
    tidy(() => {
      const x = randn([30, 3, 4]).requiresGrad_();
      const r = lstm.forward(x);
      sum(r.output).add(sum(r.cN)).backward();
    });
    lstm.zeroGrad();
    expect(memory().numTensors).toBe(before);
    lstm.dispose();
    gru.dispose();
  });

  it("errors name the module, the expected and the actual shapes", () => {
    const lstm = new LSTM(3, 4, { numLayers: 2 });
    const gru = new GRU(3, 4, { bidirectional: true, batchFirst: true });
    tidy(() => {
      expect(() => lstm.forward(zeros([5, 2, 7]))).toThrow(
        "LSTM: input has 7 features in its last dim but inputSize is 3 (input [5, 2, 7])",
      );
      expect(() => lstm.forward(zeros([5]))).toThrow(
        "LSTM: input must be [T, B, 3] or unbatched [T, 3], got [5]",
      );
      expect(() => lstm.forward(zeros([5, 2, 3]), [zeros([2, 2, 4]), zeros([1, 2, 4])])).toThrow(
        "LSTM: c0 must be [2, 2, 4] (numLayers·directions, batch, hiddenSize), got [1, 2, 4]",
      );
      expect(() => lstm.forward(zeros([5, 3]), [zeros([2, 1, 4]), zeros([2, 1, 4])])).toThrow(
        "LSTM: h0 must be [2, 4] (numLayers·directions, hiddenSize), got [2, 1, 4]",
      );
      expect(() => lstm.forward(zeros([5, 2, 3]), [zeros([2, 2, 4])] as unknown as [Tensor, Tensor])).toThrow(
        "LSTM: hx must be [h0, c0]",
      );
      expect(() => gru.forward(zeros([2, 5, 3]), zeros([1, 2, 4]))).toThrow(
        "GRU: h0 must be [2, 2, 4] (numLayers·directions, batch, hiddenSize), got [1, 2, 4]",
      );
      expect(() => gru.forward(zeros([2, 0, 3]))).toThrow("GRU: the sequence is empty (input [2, 0, 3])");
    });
    expect(() => new LSTM(3, 4, { dropout: 1.5 })).toThrow("LSTM: dropout must be in [0, 1], got 1.5");
    expect(() => new GRU(3, 0)).toThrow("GRU: hiddenSize must be a positive integer, got 0");
    expect(() => new GRU(3, 2, { numLayers: 1.5 })).toThrow(
      "GRU: numLayers must be a positive integer, got 1.5",
    );
    lstm.dispose();
    gru.dispose();
  });
});

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(Number(x[i]) - Number(y[i])));
  return m;
}

function expectClose(actual: Tensor, expected: Tensor, atol: number): void {
  expect(actual.shape).toEqual(expected.shape);
  expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(atol);
}
