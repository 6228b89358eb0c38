import {
  Generator,
  gelu,
  manualSeed,
  memory,
  ones,
  randn,
  setBackend,
  sum,
  tensor,
  tidy,
  triu,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import { LayerNorm, TransformerEncoder, TransformerEncoderLayer } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { type ModuleCase, moduleCase, runModuleCase } from "./support/torch-module.js";

type LayerConfig = Record<string, unknown>;
const layerFrom = (c: LayerConfig) =>
  new TransformerEncoderLayer(c.d_model as number, c.nhead as number, {
    dimFeedforward: c.dim_feedforward as number,
    dropout: c.dropout as number,
    activation: c.activation as "relu" | "gelu",
    batchFirst: c.batch_first as boolean,
    normFirst: c.norm_first as boolean,
  });

const layerCase = moduleCase<TransformerEncoderLayer>({
  build: layerFrom,
  forward: (m, x) => ({ y: m.forward(x.src!, { srcKeyPaddingMask: x.src_key_padding_mask }) }),
});
const encoderCase = moduleCase<TransformerEncoder>({
  build: (c) => {
    const lc = c.layer as LayerConfig;
    const template = layerFrom(lc);
    try {
      return new TransformerEncoder(template, c.num_layers as number, {
        norm: c.final_norm ? new LayerNorm(lc.d_model as number) : null,
      });
    } finally {
      template.dispose();
    }
  },
  forward: (m, x) => ({ y: m.forward(x.src!) }),
});

const CASES: Record<string, ModuleCase> = {
  tel_post_relu: layerCase,
  tel_post_gelu: layerCase,
  tel_pre_relu: layerCase,
  tel_pre_gelu: layerCase,
  tel_post_relu_kpm: layerCase,
  tenc3_nonorm: encoderCase,
  tenc3_norm: encoderCase,
  tenc3_prenorm_norm: encoderCase,
};

describe.each(TEST_BACKENDS)("Transformer encoder matches PyTorch on %s", (backend) => {
  for (const [name, spec] of Object.entries(CASES)) {
    it(`${name}: output, input and parameter gradients`, () => {
      const r = runModuleCase(name, spec, backend);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBeGreaterThan(10);
    });
  }
});

describe("TransformerEncoderLayer and TransformerEncoder structure", () => {
  it("layer keys equal PyTorch's", () => {
    const layer = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
    expect([...layer.stateDict()].map(([k, t]) => `${k} [${t.shape}]`)).toEqual([
      "self_attn.in_proj_weight [24,8]",
      "self_attn.in_proj_bias [24]",
      "self_attn.out_proj.weight [8,8]",
      "self_attn.out_proj.bias [8]",
      "linear1.weight [16,8]",
      "linear1.bias [16]",
      "linear2.weight [8,16]",
      "linear2.bias [8]",
      "norm1.weight [8]",
      "norm1.bias [8]",
      "norm2.weight [8]",
      "norm2.bias [8]",
    ]);
    expect([...layer.namedChildren()].map(([n]) => n)).toEqual([
      "self_attn",
      "linear1",
      "dropout",
      "linear2",
      "norm1",
      "norm2",
      "dropout1",
      "dropout2",
    ]);
    layer.dispose();
  });

  it("defaults are PyTorch's: dimFeedforward 2048, dropout 0.1, post-norm, sequence-first, eps 1e-5", () => {
    const layer = new TransformerEncoderLayer(8, 2);
    expect(layer.linear1.outFeatures).toBe(2048);
    expect(layer.dropout.p).toBe(0.1);
    expect(layer.dropout1.p).toBe(0.1);
    expect(layer.selfAttn.dropoutP).toBe(0.1);
    expect(layer.normFirst).toBe(false);
    expect(layer.batchFirst).toBe(false);
    expect(layer.selfAttn.batchFirst).toBe(false);
    expect(layer.norm1.eps).toBe(1e-5);
    layer.dispose();
  });

  it("bias false removes every bias, the layer norms' included (PyTorch 2.1's bias=False)", () => {
    const layer = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16, bias: false });
    const keys = [...layer.stateDict().keys()];
    expect(keys).toEqual([
      "self_attn.in_proj_weight",
      "self_attn.out_proj.weight",
      "linear1.weight",
      "linear2.weight",
      "norm1.weight",
      "norm2.weight",
    ]);
    layer.dispose();
  });

  it("an unknown activation is an error naming the choices", () => {
    expect(() => new TransformerEncoderLayer(8, 2, { activation: "tanh" as "relu" })).toThrow(
      `TransformerEncoderLayer: activation must be 'relu', 'gelu' or a function, got "tanh"`,
    );
  });

  it("encoder layers are copies of the template: identical at start, independent afterwards", () => {
    const template = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
    const enc = new TransformerEncoder(template, 3, { norm: new LayerNorm(8) });
    const keys = [...enc.stateDict().keys()];
    expect(keys.length).toBe(3 * 12 + 2);
    expect(keys.slice(0, 2)).toEqual([
      "layers.0.self_attn.in_proj_weight",
      "layers.0.self_attn.in_proj_bias",
    ]);
    expect(keys.slice(-2)).toEqual(["norm.weight", "norm.bias"]);
    for (const [k, t] of template.stateDict()) {
      for (let i = 0; i < 3; i++)
        expect(enc.stateDict().get(`layers.${i}.${k}`)!.dataSync()).toEqual(t.dataSync());
    }
    // The copies own their tensors: freeing the template leaves the encoder intact.
    const w = template.linear1.weight.dataSync();
    template.dispose();
    expect(enc.layers.at(2).linear1.weight.dataSync()).toEqual(w);
    expect(enc.layers.at(0).linear1.weight).not.toBe(enc.layers.at(1).linear1.weight);
    enc.dispose();
  });

  it("encoder without a norm registers no norm key", () => {
    const template = new TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
    const enc = new TransformerEncoder(template, 2);
    template.dispose();
    expect([...enc.stateDict().keys()].some((k) => k.startsWith("norm"))).toBe(false);
    expect(enc.norm).toBeNull();
    enc.dispose();
  });
});

describe.each(TEST_BACKENDS)("Transformer encoder behaviour on %s", (backend) => {
  const layerOpts = { dimFeedforward: 32, batchFirst: true } as const;

  it("a custom activation function equals the named one", () => {
    const a = new TransformerEncoderLayer(16, 4, { ...layerOpts, dropout: 0, activation: "gelu" }).to(
      backend,
    );
    const b = new TransformerEncoderLayer(16, 4, { ...layerOpts, dropout: 0, activation: (x) => gelu(x) }).to(
      backend,
    );
    b.loadStateDict(a.stateDict());
    tidy(() => {
      const x = randn([2, 5, 16], { backend });
      expect(b.forward(x).dataSync()).toEqual(a.forward(x).dataSync());
    });
    a.dispose();
    b.dispose();
  });

  it("sequence-first [S, B, D] input equals batch-first on the transposed input", () => {
    const a = new TransformerEncoderLayer(16, 4, { ...layerOpts, dropout: 0 }).to(backend);
    const b = new TransformerEncoderLayer(16, 4, { ...layerOpts, dropout: 0, batchFirst: false }).to(backend);
    b.loadStateDict(a.stateDict());
    tidy(() => {
      const x = randn([2, 5, 16], { backend });
      const ya = a.forward(x).dataSync() as Float32Array;
      const yb = b.forward(x.transpose(0, 1)).transpose(0, 1).contiguous().dataSync() as Float32Array;
      for (let i = 0; i < ya.length; i++) expect(Math.abs(ya[i]! - yb[i]!)).toBeLessThanOrEqual(1e-5);
    });
    a.dispose();
    b.dispose();
  });

  it("isCausal equals a causal bool mask (true = not allowed) through the encoder", () => {
    const template = new TransformerEncoderLayer(16, 4, { ...layerOpts, dropout: 0 }).to(backend);
    const enc = new TransformerEncoder(template, 2);
    template.dispose();
    tidy(() => {
      const x = randn([2, 5, 16], { backend });
      const mask = triu(ones([5, 5], { dtype: "bool", backend }), 1);
      const a = enc.forward(x, { isCausal: true }).dataSync() as Float32Array;
      const b = enc.forward(x, { mask }).dataSync() as Float32Array;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5);
      // The first token sees only itself, so later tokens cannot change it.
      const c = enc.forward(x.slice(1, 0, 1), { isCausal: true }).dataSync() as Float32Array;
      for (let i = 0; i < 16; i++) expect(Math.abs(c[i]! - a[i]!)).toBeLessThanOrEqual(1e-5);
    });
    enc.dispose();
  });

  it("dropout is reproducible with a seeded generator and off in eval mode", () => {
    const make = () =>
      new TransformerEncoderLayer(16, 4, { ...layerOpts, generator: new Generator(9) }).to(backend);
    const a = make();
    const b = make();
    tidy(() => {
      const x = randn([2, 5, 16], { backend });
      const ya = a.forward(x).dataSync();
      expect(b.forward(x).dataSync()).toEqual(ya);
      a.eval();
      const e1 = a.forward(x).dataSync();
      expect(a.forward(x).dataSync()).toEqual(e1);
      expect(e1).not.toEqual(ya);
    });
    a.dispose();
    b.dispose();
  });

  it("leaves no tensors behind after forward and backward (training, dropout, padding mask)", () => {
    const template = new TransformerEncoderLayer(16, 4, { ...layerOpts, normFirst: true }).to(backend);
    const enc = new TransformerEncoder(template, 2, { norm: new LayerNorm(16).to(backend) });
    template.dispose();
    const x = randn([2, 5, 16], { backend });
    x.requiresGrad = true;
    const kpm = tensor(
      [
        [false, false, false, true, true],
        [false, false, false, false, false],
      ],
      { backend },
    );
    const before = memory().numTensors;
    for (let step = 0; step < 3; step++) {
      tidy(() => sum(enc.forward(x, { srcKeyPaddingMask: kpm })).backward());
      enc.zeroGrad();
      x.grad = null;
    }
    expect(memory().numTensors).toBe(before);
    x.dispose();
    kpm.dispose();
    enc.dispose();
  });
});

describe.each(TEST_BACKENDS)("attention weights through the encoder on %s", (backend) => {
  it("forwardWithAttention gives forward's output and per-head softmax rows, for the layers asked", () => {
    setBackend(backend);
    manualSeed(3);
    const template = new TransformerEncoderLayer(16, 4, { dimFeedforward: 32, dropout: 0, batchFirst: true });
    const enc = new TransformerEncoder(template, 3);
    template.dispose();
    const before = memory().numTensors;
    tidy(() => {
      const x = randn([2, 5, 16]);
      const plain = enc.forward(x);
      const r = enc.forwardWithAttention(x, { layers: [0, -1] });
      expect(Array.from(r.output.dataSync())).toEqual(Array.from(plain.dataSync()));
      expect(r.attention.map((a) => a?.shape ?? null)).toEqual([[2, 4, 5, 5], null, [2, 4, 5, 5]]);
      const rows = Array.from(r.attention[0]!.sum(-1).dataSync());
      for (const v of rows) expect(Math.abs(v - 1)).toBeLessThan(1e-5);
    });
    expect(memory().numTensors).toBe(before);
    enc.dispose();
  });
});
