import { JsBackend } from "@tessera/backend-js";
import { describe, expect, it } from "vitest";
import {
  findBackend,
  getBackend,
  listBackends,
  registerBackend,
  setBackend,
  tensor,
  tidy,
  withBackend,
} from "../src/index.js";

registerBackend("js-registry-a", () => new JsBackend({ name: "js-registry-a" }), 0);
registerBackend("js-registry-b", () => new JsBackend({ name: "js-registry-b" }), 0);

describe("backend registry", () => {
  it("withBackend switches for the call and restores afterwards, also on throw", () => {
    setBackend("js-registry-a");
    withBackend("js-registry-b", () => expect(getBackend().name).toBe("js-registry-b"));
    expect(getBackend().name).toBe("js-registry-a");
    expect(() =>
      withBackend("js-registry-b", () => {
        throw new Error("x");
      }),
    ).toThrow("x");
    expect(getBackend().name).toBe("js-registry-a");
  });

  it("tensor.to copies across backends and mixing backends in one op is a clear error", () => {
    tidy(() => {
      const a = tensor([1, 2], { backend: "js-registry-a" });
      const b = a.to("js-registry-b");
      expect(b.backendName).toBe("js-registry-b");
      expect(b.dataSync()).toEqual(new Float32Array([1, 2]));
      expect(() => a.add(b)).toThrow(
        /add: 'a' is on backend 'js-registry-a' but 'b' is on 'js-registry-b'; move one with tensor.to\('js-registry-a'\)/,
      );
    });
  });

  it("unknown backends and duplicate names are rejected with the known names", () => {
    expect(() => findBackend("nope")).toThrow(
      /backend 'nope' is not registered \(registered: .*js-registry-a/,
    );
    expect(() => registerBackend("js-registry-a", () => new JsBackend())).toThrow(/already registered/);
    expect(listBackends()).toContain("js-registry-b");
  });

  it("toAsync copies without synchronous reads", async () => {
    const a = tensor([3, 4], { backend: "js-registry-a" });
    const b = await a.toAsync("js-registry-b");
    expect(await b.data()).toEqual(new Float32Array([3, 4]));
    a.dispose();
    b.dispose();
  });
});
