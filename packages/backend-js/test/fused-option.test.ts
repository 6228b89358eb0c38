import {
  ALL_FUSED_KERNELS,
  capabilities,
  FUSED_BACKWARD_KERNELS,
  FUSED_KERNELS,
  findBackend,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import { createJsBackend, JsBackend } from "../src/index.js";

describe("the fused option", () => {
  it("a default backend exposes every fused kernel, forward and backward, as a function", () => {
    const be = new JsBackend();
    expect(capabilities(be).fused).toEqual([...FUSED_KERNELS, ...FUSED_BACKWARD_KERNELS]);
    for (const k of ALL_FUSED_KERNELS) expect(typeof be.fused[k]).toBe("function");
  });

  it("fused: FUSED_KERNELS gives the forward kernels without their backward kernels", () => {
    const be = createJsBackend({ fused: FUSED_KERNELS });
    expect(capabilities(be).fused).toEqual([...FUSED_KERNELS]);
    expect(be.fused.softmaxBackward).toBeUndefined();
  });

  it("fused: [] gives a primitives-only backend with an empty fused table", () => {
    const be = createJsBackend({ name: "js-primitives", fused: [] });
    expect(be.name).toBe("js-primitives");
    expect(Object.keys(be.fused)).toEqual([]);
    expect(capabilities(be).fused).toEqual([]);
  });

  it("a subset list exposes exactly that subset", () => {
    const be = createJsBackend({ fused: ["gelu", "softmax"] });
    expect(Object.keys(be.fused).sort()).toEqual(["gelu", "softmax"]);
    expect(capabilities(be).fused).toEqual(["softmax", "gelu"]);
  });

  it("an unknown kernel name is rejected with the known names", () => {
    expect(() => createJsBackend({ fused: ["softmax", "nope" as never] })).toThrow(
      /unknown fused kernel 'nope'/,
    );
  });

  it("the registered 'js' backend carries every fused kernel", () => {
    expect(capabilities(findBackend("js")).fused).toEqual([...ALL_FUSED_KERNELS]);
  });
});
