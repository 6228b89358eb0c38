import { type DType, Tensor } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { JsBackend } from "../src/index.js";
import { make, numelOf, randomValues } from "./helpers.js";

describe("storage accounting", () => {
  for (const dtype of ["float32", "float64", "float16", "bfloat16"] as const) {
    it(`every kernel in ${dtype} leaves memory().handles and bytes where they started`, () => {
      const be = new JsBackend();
      const F = be.fused as Required<typeof be.fused>;
      const start = be.memory();
      const live: Tensor[] = [];
      const t = (shape: number[], dt: DType = dtype) => {
        const x = make(be, shape, randomValues(numelOf(shape), shape.length), dt);
        live.push(x);
        return x;
      };
      const e = (shape: number[], dt: DType = dtype) => {
        const x = Tensor.empty(shape, dt, be);
        live.push(x);
        return x;
      };
      const x4 = t([2, 3, 6, 5]);
      F.softmax(x4.kernelView, 1, e([2, 3, 6, 5]).kernelView);
      F.logSoftmax(x4.kernelView, 3, e([2, 3, 6, 5]).kernelView);
      F.layerNorm(x4.kernelView, t([5]).kernelView, t([5]).kernelView, 5, 1e-5, e([2, 3, 6, 5]).kernelView);
      F.gelu(x4.kernelView, "tanh", e([2, 3, 6, 5]).kernelView);
      F.attention(
        t([2, 4, 3]).kernelView,
        t([2, 5, 3]).kernelView,
        t([2, 5, 2]).kernelView,
        t([2, 4, 5]).kernelView,
        { scale: 0.5, causal: true },
        e([2, 4, 2]).kernelView,
        e([2, 4, 5]).kernelView,
      );
      F.conv2d(
        x4.kernelView,
        t([4, 3, 3, 3]).kernelView,
        t([4]).kernelView,
        { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 },
        e([2, 4, 6, 5]).kernelView,
      );
      F.convTranspose2d(
        x4.kernelView,
        t([3, 2, 2, 2]).kernelView,
        null,
        { stride: [2, 2], padding: [0, 0], dilation: [1, 1], groups: 1, outputPadding: [0, 0] },
        e([2, 2, 12, 10]).kernelView,
      );
      const pool = {
        kernel: [2, 2] as [number, number],
        stride: [2, 2] as [number, number],
        padding: [0, 0] as [number, number],
        dilation: [1, 1] as [number, number],
        ceilMode: false,
        countIncludePad: true,
      };
      F.maxPool2d(x4.kernelView, pool, e([2, 3, 3, 2]).kernelView);
      F.avgPool2d(x4.kernelView, pool, e([2, 3, 3, 2]).kernelView);
      F.adaptiveAvgPool2d(x4.kernelView, e([2, 3, 2, 2]).kernelView);
      F.interpolate(
        x4.kernelView,
        { mode: "bilinear", alignCorners: false, scale: [0.5, 0.5] },
        e([2, 3, 12, 10]).kernelView,
      );
      const target = make(be, [4], [0, 1, 2, 9], "int32");
      live.push(target);
      F.crossEntropy(
        t([4, 3]).kernelView,
        target.kernelView,
        null,
        { ignoreIndex: 9, labelSmoothing: 0.1, reduction: "mean" },
        e([]).kernelView,
      );
      // A kernel that throws inside the half wrapper still frees its temporaries.
      expect(() =>
        F.crossEntropy(
          t([4, 3]).kernelView,
          target.kernelView,
          null,
          { ignoreIndex: -1, labelSmoothing: 0, reduction: "sum" },
          e([]).kernelView,
        ),
      ).toThrow();
      F.adamUpdate(t([7]).kernelView, t([7]).kernelView, t([7]).kernelView, t([7]).kernelView, {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0,
        decoupled: true,
        step: 1,
      });
      be.matmul(t([3, 4]).kernelView, t([2, 5, 4]).kernelView, false, true, e([2, 3, 5]).kernelView);
      be.unary("exp", x4.kernelView, e([2, 3, 6, 5]).kernelView);
      be.binary("add", x4.kernelView, x4.kernelView, e([2, 3, 6, 5]).kernelView);
      be.reduce("sum", x4.kernelView, [1, 2], e([2, 1, 1, 5]).kernelView);
      be.copy(x4.kernelView, e([2, 3, 6, 5], "float32").kernelView);
      expect(be.memory().handles).toBeGreaterThan(start.handles);
      for (const x of live) x.dispose();
      expect(be.memory()).toEqual(start);
    });
  }
});
