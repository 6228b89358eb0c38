import { memory, randn, sum, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { Conv2d, ConvTranspose2d, type Size2 } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { CONV_NORM_CASES, runJsonModuleCase } from "./support/json-module-case.js";
import { type ModuleCase, moduleCase, runModuleCase } from "./support/torch-module.js";

type Config = Record<string, unknown>;
const size2 = (v: unknown) => v as Size2 | undefined;

const buildConv = (c: Config) =>
  new Conv2d(c.in_channels as number, c.out_channels as number, size2(c.kernel_size)!, {
    stride: size2(c.stride),
    padding: c.padding as Size2 | "same" | "valid" | undefined,
    dilation: size2(c.dilation),
    groups: c.groups as number | undefined,
    bias: c.bias as boolean | undefined,
  });
const buildConvT = (c: Config) =>
  new ConvTranspose2d(c.in_channels as number, c.out_channels as number, size2(c.kernel_size)!, {
    stride: size2(c.stride),
    padding: size2(c.padding),
    outputPadding: size2(c.output_padding),
    dilation: size2(c.dilation),
    groups: c.groups as number | undefined,
    bias: c.bias as boolean | undefined,
  });

const conv = moduleCase<Conv2d>({ build: buildConv, forward: (m, x) => ({ y: m.forward(x.x!) }) });
const convT = moduleCase<ConvTranspose2d>({ build: buildConvT, forward: (m, x) => ({ y: m.forward(x.x!) }) });
const FIXTURES: Record<string, ModuleCase> = {
  conv2d_module: conv,
  conv_transpose2d_module: convT,
  conv_transpose2d_module_k2s2: convT,
};

const JSON_CASES = ["conv2d_same_even_dilated_groups", "conv2d_strided_depthwise_nobias"] as const;

describe.each(TEST_BACKENDS)("convolution modules match PyTorch on %s", (backend) => {
  for (const [name, spec] of Object.entries(FIXTURES)) {
    it(`${name}: forward, input and parameter gradients`, () => {
      const r = runModuleCase(name, spec, backend);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBe(4);
    });
  }
  for (const name of JSON_CASES) {
    it(`${name} (local torch reference): forward and gradients`, () => {
      const c = CONV_NORM_CASES.cases[name]!;
      const r = runJsonModuleCase(c, buildConv, (m, x) => ({ y: m.forward(x.x!) }), backend);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBe(1 + Object.keys(c.grads).length);
    });
  }
  it("conv_transpose2d_groups_dilation_output_size (local torch reference): outputSize picks outputPadding", () => {
    const c = CONV_NORM_CASES.cases.conv_transpose2d_groups_dilation_output_size!;
    const outputSize = c.config.output_size as number[];
    const r = runJsonModuleCase(c, buildConvT, (m, x) => ({ y: m.forward(x.x!, outputSize) }), backend);
    expect(r.failures).toEqual([]);
    expect(r.checked).toBe(4);
  });

  it("forward + backward leaves the live tensor count flat", () => {
    const convs = [
      new Conv2d(3, 4, 3, { padding: "same" }),
      new Conv2d(3, 4, 2, { padding: "same" }),
      new ConvTranspose2d(3, 4, 3, { stride: 2 }),
    ];
    for (const m of convs) m.to(backend);
    const before = memory().numTensors;
    for (let step = 0; step < 3; step++) {
      tidy(() => {
        for (const m of convs) {
          const x = randn([2, 3, 6, 5], { backend });
          x.requiresGrad = true;
          sum(m.forward(x)).backward();
          x.grad = null;
        }
      });
      for (const m of convs) m.zeroGrad();
    }
    expect(memory().numTensors).toBe(before);
    for (const m of convs) m.dispose();
  });
});

describe("Conv2d", () => {
  it("has PyTorch's weight shape [out, in/groups, kh, kw] and keys weight, bias", () => {
    const m = new Conv2d(4, 6, [3, 5], { groups: 2 });
    expect(m.weight.shape).toEqual([6, 2, 3, 5]);
    expect(m.bias!.shape).toEqual([6]);
    expect([...m.stateDict().keys()]).toEqual(["weight", "bias"]);
    expect([...new Conv2d(1, 1, 1, { bias: false }).stateDict().keys()]).toEqual(["weight"]);
    m.dispose();
  });

  it("'same' keeps the spatial size for odd and even kernels; 'valid' pads nothing", () => {
    for (const k of [1, 2, 3, 4] as const) {
      const m = new Conv2d(2, 3, k, { padding: "same", dilation: [1, 2] });
      const y = m.forward(randn([1, 2, 7, 8]));
      expect(y.shape).toEqual([1, 3, 7, 8]);
      y.dispose();
      m.dispose();
    }
    const m = new Conv2d(2, 3, 3, { padding: "valid" });
    const y = m.forward(randn([2, 7, 8]));
    expect(y.shape).toEqual([3, 5, 6]);
    y.dispose();
    m.dispose();
  });

  it("prints like PyTorch", () => {
    const m = new Conv2d(3, 5, 3, { padding: 1 });
    expect(String(m)).toBe("Conv2d(3, 5, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
    const m2 = new Conv2d(4, 8, [3, 1], { dilation: 2, groups: 4, bias: false, padding: "same" });
    expect(m2.toString()).toBe(
      "Conv2d(4, 8, kernel_size=(3, 1), stride=(1, 1), padding=same, dilation=(2, 2), groups=4, bias=False)",
    );
    m.dispose();
    m2.dispose();
  });

  it("rejects bad channels, groups, padding and input with messages naming them", () => {
    expect(() => new Conv2d(3, 6, 3, { groups: 2 })).toThrow(
      /Conv2d: inChannels 3 must be divisible by groups 2/,
    );
    expect(() => new Conv2d(4, 6, 3, { groups: 4 })).toThrow(/outChannels 6 must be divisible by groups 4/);
    expect(() => new Conv2d(4, 4, 3, { groups: 0 })).toThrow(/groups must be a positive integer, got 0/);
    expect(() => new Conv2d(0, 4, 3)).toThrow(/inChannels must be a positive integer, got 0/);
    expect(() => new Conv2d(3, 4, 0)).toThrow(/kernelSize must be an integer >= 1/);
    expect(() => new Conv2d(3, 4, 3, { stride: 2, padding: "same" })).toThrow(
      /padding 'same' is not supported for strided convolutions/,
    );
    expect(() => new Conv2d(3, 4, 3, { padding: "full" as never })).toThrow(/'same' or 'valid', got 'full'/);
    const m = new Conv2d(3, 4, 3);
    expect(() => m.forward(randn([2, 5, 8, 8]))).toThrow(
      /Conv2d: expected 3 input channels, got input \[2,5,8,8\]/,
    );
    expect(() => m.forward(randn([8, 8]))).toThrow(
      /Conv2d: input must be \[N,C,H,W\] or unbatched \[C,H,W\], got \[8,8\]/,
    );
    m.dispose();
  });
});

describe("ConvTranspose2d", () => {
  it("has PyTorch's weight shape [in, out/groups, kh, kw]", () => {
    const m = new ConvTranspose2d(4, 6, [3, 2], { groups: 2 });
    expect(m.weight.shape).toEqual([4, 3, 3, 2]);
    expect([...m.stateDict().keys()]).toEqual(["weight", "bias"]);
    m.dispose();
  });

  it("output size is (in−1)·stride − 2·padding + dilation·(k−1) + outputPadding + 1", () => {
    const m = new ConvTranspose2d(2, 3, 3, {
      stride: [2, 3],
      padding: 1,
      outputPadding: [1, 2],
      dilation: 1,
    });
    const y = m.forward(randn([1, 2, 5, 4]));
    expect(y.shape).toEqual([1, 3, 2 * 4 - 2 + 2 + 1 + 1, 3 * 3 - 2 + 2 + 2 + 1]);
    y.dispose();
    const full = m.forward(randn([1, 2, 5, 4]), [1, 3, 9, 10]);
    expect(full.shape).toEqual([1, 3, 9, 10]);
    full.dispose();
    m.dispose();
  });

  it("prints like PyTorch", () => {
    const m = new ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1 });
    expect(m.toString()).toBe(
      "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))",
    );
    m.dispose();
  });

  it("rejects bad channels, outputPadding, outputSize and input with messages naming them", () => {
    expect(() => new ConvTranspose2d(3, 4, 3, { groups: 2 })).toThrow(
      /ConvTranspose2d: inChannels 3 must be divisible by groups 2/,
    );
    expect(() => new ConvTranspose2d(4, 3, 3, { groups: 2 })).toThrow(
      /outChannels 3 must be divisible by groups 2/,
    );
    expect(() => new ConvTranspose2d(4, 4, 3, { stride: 2, outputPadding: 2 })).toThrow(
      /outputPadding \(2, 2\) must be smaller than stride \(2, 2\) or dilation \(1, 1\)/,
    );
    expect(() => new ConvTranspose2d(4, 4, 3, { padding: "same" as never })).toThrow(
      /padding must be a number or a pair/,
    );
    const m = new ConvTranspose2d(4, 4, 3, { stride: 2 });
    const x = randn([1, 4, 5, 5]);
    expect(() => m.forward(x, [13, 13])).toThrow(
      /requested an output size of \[13, 13\], but valid sizes range from \[11, 11\] to \[12, 12\]/,
    );
    expect(() => m.forward(x, [11])).toThrow(/outputSize must have 2 or 4 elements/);
    expect(() => m.forward(randn([1, 3, 5, 5]))).toThrow(/expected 4 input channels, got input \[1,3,5,5\]/);
    expect(() => m.forward(randn([5, 5]))).toThrow(/input must be \[N,C,H,W\]/);
    x.dispose();
    m.dispose();
  });
});
