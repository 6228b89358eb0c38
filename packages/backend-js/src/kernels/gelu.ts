/** GELU: exact erf form (PyTorch's default) or the tanh approximation. */
import { erf } from "./math.js";
import type { FloatArray } from "./types.js";

const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function geluKernel(
  x: FloatArray,
  xOff: number,
  n: number,
  approximate: "none" | "tanh",
  out: FloatArray,
  outOff: number,
): void {
  if (approximate === "tanh") {
    for (let i = 0; i < n; i++) {
      const v = x[xOff + i]!;
      out[outOff + i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = x[xOff + i]!;
      out[outOff + i] = 0.5 * v * (1 + erf(v * SQRT1_2));
    }
  }
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const TANH_C = 0.044715;

/**
 * dx = dy·gelu'(x): Φ(x) + x·φ(x) for the erf form; with u = √(2/π)(x + c·x³) and t = tanh(u),
 * ½(1 + t) + ½·x·(1 − t²)·√(2/π)(1 + 3c·x²) for the tanh form.
 */
export function geluBackwardKernel(
  x: FloatArray,
  xOff: number,
  dy: FloatArray,
  dyOff: number,
  n: number,
  approximate: "none" | "tanh",
  dx: FloatArray,
  dxOff: number,
): void {
  if (approximate === "tanh") {
    for (let i = 0; i < n; i++) {
      const v = x[xOff + i]!;
      const t = Math.tanh(SQRT_2_OVER_PI * (v + TANH_C * v * v * v));
      const slope = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * TANH_C * v * v);
      dx[dxOff + i] = dy[dyOff + i]! * slope;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = x[xOff + i]!;
      const slope = 0.5 * (1 + erf(v * SQRT1_2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v);
      dx[dxOff + i] = dy[dyOff + i]! * slope;
    }
  }
}
