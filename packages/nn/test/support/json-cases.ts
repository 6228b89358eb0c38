/**
 * Reference cases stored as JSON by the scripts in packages/nn/scripts/ (local PyTorch 1.13, float64
 * results from float32 inputs): loading, tensor conversion and the elementwise tolerance check
 * `|actual − golden| <= atol + rtol·|golden|` of shared/fixtures/torch/README.md.
 */
import { readFileSync } from "node:fs";
import { type Tensor, tensor } from "@tessera/core";
import { FIXTURES_DIR } from "./torch-module.js";

export interface JsonTensor {
  shape: number[];
  data: number[];
}

export interface Tolerance {
  rtol: number;
  atol: number;
}

export function loadJsonFixture<T>(file: string): T {
  return JSON.parse(readFileSync(`${FIXTURES_DIR}${file}`, "utf8")) as T;
}

export function fromJson(t: JsonTensor, backend: string): Tensor {
  return tensor(Float32Array.from(t.data), { shape: t.shape, backend });
}

export function fromJsonInt(t: JsonTensor, backend: string): Tensor {
  return tensor(Int32Array.from(t.data), { shape: t.shape, dtype: "int32", backend });
}

/** null when `actual` matches `golden` within `tol`, else a message naming the worst element. */
export function mismatch(
  name: string,
  actual: Tensor | null | undefined,
  golden: JsonTensor,
  tol: Tolerance,
): string | null {
  if (!actual) return `${name}: not produced`;
  if (actual.shape.length !== golden.shape.length || actual.shape.some((d, i) => d !== golden.shape[i])) {
    return `${name}: shape [${actual.shape.join(", ")}] != reference [${golden.shape.join(", ")}]`;
  }
  const a = actual.dataSync();
  let bad = 0;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < golden.data.length; i++) {
    const g = golden.data[i]!;
    const v = Number(a[i]);
    const ratio = Math.abs(v - g) / (tol.atol + tol.rtol * Math.abs(g));
    if (!(ratio <= 1)) {
      bad++;
      if (!(ratio <= worstRatio)) {
        worstRatio = ratio;
        worst = i;
      }
    }
  }
  if (bad === 0) return null;
  return `${name}: ${bad}/${golden.data.length} elements off (atol ${tol.atol}, rtol ${tol.rtol}); worst [${worst}] = ${a[worst]} vs ${golden.data[worst]}`;
}
