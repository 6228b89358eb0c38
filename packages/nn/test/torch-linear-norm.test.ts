import { describe, expect, it } from "vitest";
import { LayerNorm, Linear } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { type ModuleCase, moduleCase, runModuleCase } from "./support/torch-module.js";

const linearSpec: ModuleCase<Linear> = {
  build: (c) =>
    new Linear(c.in_features as number, c.out_features as number, { bias: c.bias as boolean | undefined }),
  forward: (m, x) => ({ y: m.forward(x.x!) }),
};
const linear = moduleCase(linearSpec);
const layerNorm = moduleCase<LayerNorm>({
  build: (c) => new LayerNorm(c.normalized_shape as number, { eps: c.eps as number }),
  forward: (m, x) => ({ y: m.forward(x.x!) }),
});

const CASES: Record<string, ModuleCase> = {
  linear,
  linear_nobias: linear,
  layernorm: layerNorm,
};

describe.each(TEST_BACKENDS)("PyTorch parity on %s", (backend) => {
  for (const [name, spec] of Object.entries(CASES)) {
    it(`${name} matches torch (forward, input and parameter gradients)`, () => {
      const r = runModuleCase(name, spec, backend);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBeGreaterThan(2);
    });
  }
});

describe("the PyTorch harness itself", () => {
  it("reports a wrong forward, a wrong gradient and a wrong key instead of passing", () => {
    const wrongForward = runModuleCase(
      "linear",
      moduleCase<Linear>({
        ...linearSpec,
        forward: (m, x) => ({ y: m.forward(x.x!).mul(1.001) }),
      }),
      "js",
    );
    expect(wrongForward.failures.some((f) => f.startsWith("output.y:"))).toBe(true);
    expect(wrongForward.failures.some((f) => f.startsWith("grad.param.weight:"))).toBe(true);
    expect(() =>
      runModuleCase(
        "linear",
        moduleCase<Linear>({
          ...linear,
          build: () => new Linear(7, 13, { bias: false }),
        }),
        "js",
      ),
    ).toThrow("unexpected keys: bias");
  });
});
