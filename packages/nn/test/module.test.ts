import "@tessera/backend-js";
import { manualSeed, memory, randn, relu, setBackend, type Tensor, tensor, tidy, zeros } from "@tessera/core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  Dropout,
  formatFloat,
  GELU,
  Identity,
  LayerNorm,
  Linear,
  Module,
  ModuleDict,
  ModuleList,
  ReLU,
  Sequential,
} from "../src/index.js";
import { NATIVE_UNAVAILABLE, TEST_BACKENDS } from "./support/backends.js";

class Block extends Module {
  readonly norm = this.registerModule("norm", new LayerNorm(4));
  readonly fc = this.registerModule("fc", new Linear(4, 4));
  readonly scale = this.registerParameter("scale", zeros([1]));
  readonly steps = this.registerBuffer("steps", zeros([1], { dtype: "int32" }));
  readonly cache = this.registerBuffer("cache", zeros([2]), { persistent: false });
  override forward(x: Tensor): Tensor {
    return relu(this.fc.forward(this.norm.forward(x))).add(this.scale);
  }
}

class Net extends Module {
  readonly embed = this.registerModule("patch_embed", new Linear(3, 4, { bias: false }));
  readonly blocks = this.registerModule("blocks", new ModuleList([new Block(), new Block()]));
  readonly head = this.registerModule("head", new Sequential(new LayerNorm(4), new Linear(4, 2)));
  override forward(x: Tensor): Tensor {
    let h = this.embed.forward(x);
    for (const b of this.blocks) h = b.forward(h);
    return this.head.forward(h);
  }
}

beforeAll(() => setBackend("js"));

describe("Module registration and traversal", () => {
  it("state-dict keys follow the registered names, module by module as PyTorch orders them", () => {
    const net = new Net();
    expect([...net.stateDict().keys()]).toEqual([
      "patch_embed.weight",
      "blocks.0.scale",
      "blocks.0.steps",
      "blocks.0.norm.weight",
      "blocks.0.norm.bias",
      "blocks.0.fc.weight",
      "blocks.0.fc.bias",
      "blocks.1.scale",
      "blocks.1.steps",
      "blocks.1.norm.weight",
      "blocks.1.norm.bias",
      "blocks.1.fc.weight",
      "blocks.1.fc.bias",
      "head.0.weight",
      "head.0.bias",
      "head.1.weight",
      "head.1.bias",
    ]);
    // Parameters exclude buffers; non-persistent buffers are listed by namedBuffers only.
    expect([...net.namedParameters()].map(([k]) => k)).not.toContain("blocks.0.steps");
    expect([...net.namedBuffers()].map(([k]) => k)).toEqual([
      "blocks.0.steps",
      "blocks.0.cache",
      "blocks.1.steps",
      "blocks.1.cache",
    ]);
    expect([...net.namedModules()].map(([k]) => k)).toEqual([
      "",
      "patch_embed",
      "blocks",
      "blocks.0",
      "blocks.0.norm",
      "blocks.0.fc",
      "blocks.1",
      "blocks.1.norm",
      "blocks.1.fc",
      "head",
      "head.0",
      "head.1",
    ]);
    expect([...net.children()].length).toBe(3);
    expect(net.getSubmodule("blocks.1.fc")).toBe((net.blocks.at(1) as Block).fc);
    expect(() => net.getSubmodule("blocks.7")).toThrow("Net.getSubmodule: 'blocks.7' has no module '7'");
    net.dispose();
  });

  it("parameters require grad, and numParameters counts elements of shared parameters once", () => {
    const net = new Net();
    expect([...net.parameters()].every((p) => p.requiresGrad)).toBe(true);
    // 12 + 2 × (4+4 + 16+4 + 1) + (4+4 + 8+2)
    expect(net.numParameters()).toBe(12 + 2 * 29 + 18);
    const shared = new Linear(2, 2);
    const twice = new Sequential(shared, shared);
    expect(twice.numParameters()).toBe(6);
    expect([...twice.namedParameters()].map(([k]) => k)).toEqual(["0.weight", "0.bias"]);
    net.head.requiresGrad_(false);
    expect(net.numParameters({ trainableOnly: true })).toBe(12 + 2 * 29);
    net.dispose();
    shared.dispose();
  });

  it("registration rejects dotted names, duplicates and integer parameters with the name", () => {
    const m = new Module();
    expect(() => m.registerParameter("a.b", zeros([1]))).toThrow(
      `Module.registerParameter: name must be a non-empty string without '.', got "a.b"`,
    );
    m.registerParameter("w", zeros([1]));
    expect(() => m.registerBuffer("w", zeros([1]))).toThrow(
      "Module: cannot register buffer 'w': a parameter of that name exists",
    );
    expect(() => m.registerParameter("i", zeros([1], { dtype: "int32" }))).toThrow(
      "Module.registerParameter: 'i' must be floating point, got int32 [1]",
    );
    expect(() => m.forward()).toThrow("Module: forward is not implemented");
    m.dispose();
  });

  it("train() and eval() reach every descendant; apply visits children before the parent", () => {
    const net = new Net();
    net.eval();
    expect([...net.modules()].every((m) => !m.training)).toBe(true);
    net.train();
    expect([...net.modules()].every((m) => m.training)).toBe(true);
    const order: string[] = [];
    new Sequential(new ReLU(), new Sequential(new GELU())).apply((m) => order.push(m.typeName));
    expect(order).toEqual(["ReLU", "GELU", "Sequential", "Sequential"]);
    net.dispose();
  });

  it("parameters survive tidy and dispose() frees every tensor of the tree", () => {
    const before = memory().numTensors;
    const net = tidy(() => new Net());
    expect(memory().numTensors).toBe(before + 17 + 2);
    tidy(() =>
      net
        .forward(randn([5, 3]))
        .sum()
        .backward(),
    );
    expect(net.embed.weight.grad).not.toBeNull();
    net.zeroGrad();
    expect(net.embed.weight.grad).toBeNull();
    net.dispose();
    expect(memory().numTensors).toBe(before);
  });
});

describe("stateDict and loadStateDict", () => {
  it("a state dict loads into a fresh model in place and reproduces its outputs", () => {
    manualSeed(1);
    const a = new Net();
    const b = new Net();
    const w = b.embed.weight;
    b.loadStateDict(a.stateDict());
    expect(b.embed.weight).toBe(w);
    tidy(() => {
      const x = randn([2, 3]);
      expect(Array.from(b.forward(x).dataSync())).toEqual(Array.from(a.forward(x).dataSync()));
    });
    a.dispose();
    b.dispose();
  });

  it("strict loading names missing and unexpected keys; non-strict reports them", () => {
    const net = new Net();
    const sd = new Map(net.stateDict());
    sd.delete("head.1.bias");
    const extra = tensor([1]);
    sd.set("head.2.weight", extra);
    expect(() => net.loadStateDict(sd)).toThrow(
      "Net.loadStateDict: missing keys: head.1.bias; unexpected keys: head.2.weight",
    );
    expect(net.loadStateDict(sd, { strict: false })).toEqual({
      missingKeys: ["head.1.bias"],
      unexpectedKeys: ["head.2.weight"],
    });
    extra.dispose();
    net.dispose();
  });

  it("a shape mismatch names the key and both shapes, and writes nothing", () => {
    const net = new Net();
    const before = Array.from(net.head.at(1).getParameter("bias")!.dataSync());
    const sd = new Map(net.stateDict());
    const wrong = zeros([3, 4]);
    const newBias = tensor([5, 6]);
    sd.set("blocks.0.fc.weight", wrong);
    sd.set("head.1.bias", newBias);
    expect(() => net.loadStateDict(sd)).toThrow(
      "Net.loadStateDict: blocks.0.fc.weight has shape [3,4] in the state dict and [4,4] in the model",
    );
    expect(Array.from(net.head.at(1).getParameter("bias")!.dataSync())).toEqual(before);
    wrong.dispose();
    newBias.dispose();
    net.dispose();
  });

  it("values convert to each tensor's dtype (int32 buffers load from float state)", () => {
    const net = new Net();
    const sd = new Map(net.stateDict());
    const steps = tensor([7]);
    sd.set("blocks.0.steps", steps);
    net.loadStateDict(sd);
    expect(net.blocks.at(0).getBuffer("steps")!.dtype).toBe("int32");
    expect(Array.from(net.blocks.at(0).getBuffer("steps")!.dataSync())).toEqual([7]);
    steps.dispose();
    net.dispose();
  });
});

const other = TEST_BACKENDS.find((b) => b !== "js") ?? "native";
describe.skipIf(!TEST_BACKENDS.includes(other))(
  `Module.to(${other})${NATIVE_UNAVAILABLE ? ` (addon unavailable: ${NATIVE_UNAVAILABLE})` : ""}`,
  () => {
    const backend = other;
    it("moves parameters, buffers and gradients in place, so held references stay valid", () => {
      const net = new Net();
      const w = net.embed.weight;
      tidy(() =>
        net
          .forward(randn([2, 3]))
          .sum()
          .backward(),
      );
      const values = Array.from(w.dataSync());
      net.to(backend);
      expect(net.embed.weight).toBe(w);
      expect(w.backendName).toBe(backend);
      expect(w.grad!.backendName).toBe(backend);
      expect(net.blocks.at(0).getBuffer("steps")!.backendName).toBe(backend);
      expect(Array.from(w.dataSync())).toEqual(values);
      const y = tidy(() => net.forward(randn([2, 3], { backend })));
      expect(y.backendName).toBe(backend);
      y.dispose();
      net.to("js");
      expect(w.backendName).toBe("js");
      net.dispose();
    });
  },
);

describe("printing", () => {
  it("toString prints the tree like PyTorch", () => {
    const m = new Sequential(
      new Linear(4, 8),
      new ReLU(),
      new Dropout(0.1),
      new ModuleDict({ out: new Linear(8, 2, { bias: false }) }),
    );
    expect(m.toString()).toBe(
      [
        "Sequential(",
        "  (0): Linear(in_features=4, out_features=8, bias=True)",
        "  (1): ReLU()",
        "  (2): Dropout(p=0.1, inplace=False)",
        "  (3): ModuleDict(",
        "    (out): Linear(in_features=8, out_features=2, bias=False)",
        "  )",
        ")",
      ].join("\n"),
    );
    expect(new LayerNorm(64).toString()).toBe("LayerNorm((64,), eps=1e-05, elementwise_affine=True)");
    expect(new Identity().toString()).toBe("Identity()");
    expect([1e-5, 1e16, 1.5e-7, 2, 0.1, -3e-5, 0].map(formatFloat)).toEqual([
      "1e-05",
      "1e+16",
      "1.5e-07",
      "2.0",
      "0.1",
      "-3e-05",
      "0.0",
    ]);
    m.dispose();
  });
});
