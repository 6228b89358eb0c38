/** Shared by the op tests: a primitives-only backend and an elementwise closeness check. */
import { JsBackend } from "@tessera/backend-js";
import { expect } from "vitest";
import { listBackends, registerBackend, Tensor } from "../src/index.js";

/** 'js' runs fused kernels where backend-js has them; 'js-prim' runs core's composites only. */
export const PRIMITIVES = "js-prim";
if (!listBackends().includes(PRIMITIVES)) {
  registerBackend(PRIMITIVES, () => new JsBackend({ name: PRIMITIVES, fused: [] }));
}

/**
 * |actual − expected| ≤ tol·(1 + |expected|) per element; NaN must be NaN and ±Inf exact.
 * `expected` may be a single number for a one-element result.
 */
export function expectClose(
  actual: Tensor | ArrayLike<number>,
  expected: number | ArrayLike<number>,
  tol = 1e-5,
): void {
  const a = actual instanceof Tensor ? actual.dataSync() : actual;
  const e = typeof expected === "number" ? [expected] : expected;
  expect(a.length).toBe(e.length);
  for (let i = 0; i < a.length; i++) {
    const ev = e[i]!;
    if (Number.isNaN(ev)) expect(a[i], `element ${i}`).toBeNaN();
    else if (!Number.isFinite(ev)) expect(a[i], `element ${i}`).toBe(ev);
    else
      expect(Math.abs(a[i]! - ev), `element ${i}: ${a[i]} vs ${ev}`).toBeLessThanOrEqual(
        tol * (1 + Math.abs(ev)),
      );
  }
}
