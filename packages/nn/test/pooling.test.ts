import { adaptiveAvgPool2d, avgPool2d, maxPool2d, randn, tidy } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from "../src/index.js";
import "./support/backends.js";

describe("pooling modules", () => {
  it("each module equals its core op with the same options", () => {
    tidy(() => {
      const x = randn([2, 3, 13, 11]);
      const same = (a: { dataSync(): ArrayLike<number> }, b: { dataSync(): ArrayLike<number> }) =>
        expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      same(
        new MaxPool2d(3, { stride: 2, padding: 1 }).forward(x),
        maxPool2d(x, 3, { stride: 2, padding: 1 }),
      );
      same(new AvgPool2d(2).forward(x), avgPool2d(x, 2));
      same(
        new AvgPool2d([3, 2], { countIncludePad: false, padding: 1 }).forward(x),
        avgPool2d(x, [3, 2], { countIncludePad: false, padding: 1 }),
      );
      same(new AdaptiveAvgPool2d([3, 4]).forward(x), adaptiveAvgPool2d(x, [3, 4]));
      expect(new MaxPool2d(2).forward(x).shape).toEqual([2, 3, 6, 5]);
    });
  });

  it("print like PyTorch, arguments as they were given", () => {
    expect(String(new MaxPool2d(2))).toBe(
      "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
    );
    expect(String(new AvgPool2d(3, { stride: 2, padding: 1 }))).toBe(
      "AvgPool2d(kernel_size=3, stride=2, padding=1)",
    );
    expect(String(new AdaptiveAvgPool2d([7, 7]))).toBe("AdaptiveAvgPool2d(output_size=(7, 7))");
  });

  it("a bad kernel size names the module", () => {
    expect(() => new MaxPool2d(0)).toThrow(
      "MaxPool2d: kernelSize must be an integer >= 1 or a pair of them, got 0",
    );
  });
});
