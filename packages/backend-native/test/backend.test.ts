/**
 * NativeBackend through core: registration, dtypes, reads, shadow(native, js), and a training loop
 * whose tensor and storage counts stay flat.
 */
import { grad } from "@tessera/autograd";
import "@tessera/backend-js";
import {
  adamUpdate,
  dispose,
  findBackend,
  getBackend,
  keep,
  layerNorm,
  listBackends,
  memory,
  randn,
  registerBackend,
  shadow,
  type Tensor,
  tensor,
  tidy,
  withBackend,
  zeros,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import { NativeBackend } from "../src/index.js";
import { nativeAvailable } from "./native-available.js";

describe.runIf(nativeAvailable)("NativeBackend through core", () => {
  it("registers 'native' above backend-js and describes itself", () => {
    expect(listBackends()).toContain("native");
    expect(getBackend().name).toBe("native");
    const info = findBackend("native").info();
    expect(info.description).toMatch(/native addon .* GEMM, \d+ threads?/);
    expect(["avx512", "avx2", "generic"]).toContain(info.isa);
    expect(info.missingKernels).toEqual([]);
  });

  it("round-trips every dtype it stores, sync and async", async () => {
    await withBackend("native", async () => {
      const cases: [string, number[]][] = [
        ["float32", [1.5, -0, Number.POSITIVE_INFINITY, Number.NaN]],
        ["int32", [1, -2, 2147483647, -2147483648]],
        ["bool", [1, 0, 1, 1]],
        ["float16", [0.5, -2, 65504, 1e-7]],
        ["bfloat16", [0.5, -2, 3e38, 1e-30]],
      ];
      for (const [dtype, values] of cases) {
        const t = tensor(values, { dtype: dtype as never });
        const ref = withBackend("js", () => tensor(values, { dtype: dtype as never }));
        expect([...(await t.data())]).toEqual([...(await ref.data())]);
        expect([...t.dataSync()]).toEqual([...ref.dataSync()]);
        dispose([t, ref]);
      }
    });
  });

  it("refuses float64 with a clear error, and mixing backends in one op", () => {
    withBackend("native", () => {
      expect(() => zeros([2], { dtype: "float64" })).toThrow(/float64/);
    });
    const a = withBackend("native", () => tensor([1, 2]));
    const b = withBackend("js", () => tensor([1, 2]));
    expect(() => a.add(b)).toThrow(/backend/);
    const c = b.to("native");
    expect([...a.add(c).dataSync()]).toEqual([2, 4]);
    dispose([a, b, c]);
  });

  it("shadow(native, js) runs a small model on both and finds no divergence", () => {
    registerBackend(
      "shadow-native",
      () => shadow(new NativeBackend(), findBackend("js"), { rtol: 1e-4, atol: 1e-5 }),
      0,
    );
    withBackend("shadow-native", () => {
      tidy(() => {
        const x = randn([4, 8, 16]);
        const w = randn([16, 16]);
        const y = layerNorm(x.matmul(w), [16]).gelu().softmax(-1).sum();
        y.dataSync();
      });
    });
    const sb = findBackend("shadow-native") as ReturnType<typeof shadow>;
    expect(sb.divergences).toEqual([]);
  });

  it("a training loop keeps a flat tensor count and flat native memory", () => {
    withBackend("native", () => {
      const w = keep(randn([32, 10]).mul(0.1));
      const m = keep(zeros([32, 10]));
      const v = keep(zeros([32, 10]));
      const x = keep(randn([64, 32]));
      const target = keep(randn([64, 10]));
      const loss = (p: Tensor) => x.matmul(p).sub(target).pow(2).mean();
      const g = grad(loss);
      let first = 0;
      const counts: number[] = [];
      const handles: number[] = [];
      for (let step = 1; step <= 30; step++) {
        tidy(() => {
          const gw = g(w);
          adamUpdate(w, gw, m, v, { lr: 1e-2, step });
          if (step === 1) first = loss(w).dataSync()[0]!;
        });
        counts.push(memory().numTensors);
        handles.push(findBackend("native").memory().handles);
      }
      const last = tidy(() => loss(w).dataSync()[0]!);
      expect(last).toBeLessThan(first);
      expect(new Set(counts.slice(2)).size).toBe(1);
      expect(new Set(handles.slice(2)).size).toBe(1);
      dispose([w, m, v, x, target]);
    });
  });
});
