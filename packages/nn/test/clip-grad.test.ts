import { memory, type Tensor, tensor, zeros } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { clipGradNorm, clipGradNormAsync, clipGradValue } from "../src/index.js";
import { TEST_BACKENDS } from "./support/backends.js";
import { compareClose, OPTIM_FIXTURES } from "./support/optim-fixtures.js";

// Float32 sums of 16 squares / powers against torch's float32 reduction (different summation order):
// a few ulp on the norm and on the scaled gradients at most. Measured on js and native: the norms
// equal torch's, the gradients within 1.2e-7 relative (1 ulp).
const NORM_TOL = { rtol: 2e-6, atol: 0 };
const GRAD_TOL = { rtol: 2e-6, atol: 1e-7 };

const SHAPES = OPTIM_FIXTURES.optimizers[0]!.shapes;

function paramsWithGrads(grads: number[][], backend: string): Tensor[] {
  return grads.map((g, i) => {
    const p = zeros(SHAPES[i]!, { backend }).requiresGrad_(true);
    const t = tensor(Float32Array.from(g), { shape: SHAPES[i]!, backend });
    p.grad = t;
    t.dispose();
    return p;
  });
}

function release(params: Tensor[]): void {
  for (const p of params) {
    p.grad = null;
    p.dispose();
  }
}

describe.each(TEST_BACKENDS)("gradient clipping on %s", (backend) => {
  for (const c of OPTIM_FIXTURES.clip) {
    const label =
      c.kind === "norm"
        ? `clipGradNorm(maxNorm ${c.maxNorm}, normType ${c.normType})`
        : `clipGradValue(${c.clipValue})`;
    it(`${label} returns torch's total norm and leaves torch's gradients`, async () => {
      const normType = c.normType === "inf" ? Number.POSITIVE_INFINITY : c.normType;
      for (const variant of c.kind === "norm" ? ["sync", "async"] : ["value"]) {
        const before = memory().numTensors;
        const params = paramsWithGrads(c.grads, backend);
        const failures: string[] = [];
        if (variant === "value") clipGradValue(params, c.clipValue!);
        else {
          const total =
            variant === "sync"
              ? clipGradNorm(params, c.maxNorm!, { normType })
              : await clipGradNormAsync(params, c.maxNorm!, { normType });
          failures.push(compareClose(`${variant} total norm`, [total], [c.total!], NORM_TOL));
        }
        params.forEach((p, i) => {
          failures.push(
            compareClose(`${variant} grad ${i}`, p.grad!.dataSync() as Float32Array, c.clipped[i]!, GRAD_TOL),
          );
        });
        release(params);
        expect(failures.filter((m) => m)).toEqual([]);
        expect(memory().numTensors).toBe(before);
      }
    });
  }

  it("clipGradNorm skips parameters without gradients and returns 0 when none has one", async () => {
    const a = zeros([3], { backend });
    const b = paramsWithGrads([[3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], backend)[0]!;
    expect(clipGradNorm([a], 1)).toBe(0);
    expect(await clipGradNormAsync(a, 1)).toBe(0);
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(5, 6);
    expect(a.grad).toBeNull();
    a.dispose();
    release([b]);
  });

  it("errorIfNonfinite throws before touching the gradients; without it an infinite norm zeroes them like torch", async () => {
    const grads = [
      [Number.POSITIVE_INFINITY, ...new Array<number>(11).fill(1)],
      [1, 2, 3, 4],
    ];
    const params = paramsWithGrads(grads, backend);
    expect(() => clipGradNorm(params, 1, { errorIfNonfinite: true })).toThrow(
      /total norm of order 2 .* is Infinity/,
    );
    await expect(clipGradNormAsync(params, 1, { errorIfNonfinite: true })).rejects.toThrow(/is Infinity/);
    expect(Array.from(params[1]!.grad!.dataSync())).toEqual([1, 2, 3, 4]);
    expect(clipGradNorm(params, 1)).toBe(Number.POSITIVE_INFINITY);
    // torch 1.13: coefficient 1/(inf + 1e-6) = 0, so finite gradients become 0 and the infinite one NaN.
    expect(Array.from(params[1]!.grad!.dataSync())).toEqual([0, 0, 0, 0]);
    expect(Array.from(params[0]!.grad!.dataSync()).slice(0, 3)).toEqual([Number.NaN, 0, 0]);
    release(params);
  });

  it("rejects a normType that is not a norm", () => {
    const params = paramsWithGrads([new Array<number>(12).fill(1)], backend);
    expect(() => clipGradNorm(params, 1, { normType: 0 })).toThrow(/normType must be > 0 or Infinity, got 0/);
    expect(() => clipGradValue(params, -1)).toThrow(/clipValue must be >= 0/);
    release(params);
  });
});
