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
