/**
 * The strided `copy` primitive: transposed, permuted, sliced and expanded views (plus a further view op
 * from the attributes) made contiguous, bit for bit, for every dtype including -0, NaN and subnormals.
 */
import { DTYPES, type DType, type Tensor } from "@tessera/core";
import * as fc from "fast-check";
import { ANY, type Domain } from "../arbitraries.js";
import { at, type Dense, indices, normDim, readHost } from "../oracle.js";
import type { ConformanceCase } from "../types.js";
import { oneTensor } from "./common.js";

type ViewOp =
  | { op: "none" }
  | { op: "transpose"; a: number; b: number }
  | { op: "slice"; dim: number; start: number; step: number }
  | { op: "unsqueezeExpand"; dim: number; size: number };

function viewOpArb(shape: number[]): fc.Arbitrary<ViewOp> {
  const r = shape.length;
  const parts: fc.Arbitrary<ViewOp>[] = [fc.constant({ op: "none" })];
  if (r >= 2)
    parts.push(
      fc.record({
        op: fc.constant("transpose" as const),
        a: fc.integer({ min: -r, max: r - 1 }),
        b: fc.integer({ min: -r, max: r - 1 }),
      }),
    );
  if (r >= 1)
    parts.push(
      fc.record({
        op: fc.constant("slice" as const),
        dim: fc.integer({ min: -r, max: r - 1 }),
        start: fc.integer({ min: -3, max: 3 }),
        step: fc.integer({ min: 1, max: 3 }),
      }),
    );
  parts.push(
    fc.record({
      op: fc.constant("unsqueezeExpand" as const),
      dim: fc.integer({ min: 0, max: r }),
      size: fc.integer({ min: 0, max: 3 }),
    }),
  );
  return fc.oneof(...parts);
}

function applyView(x: Tensor, v: ViewOp): Tensor {
  switch (v.op) {
    case "none":
      return x;
    case "transpose":
      return x.transpose(v.a, v.b);
    case "slice":
      return x.slice(v.dim, v.start, undefined, v.step);
    case "unsqueezeExpand": {
      const u = x.unsqueeze(v.dim);
      const shape = [...u.shape];
      shape[v.dim] = v.size;
      const e = u.expand(shape);
      u.dispose();
      return e;
    }
  }
}

/** The view op on host data, by index arithmetic: out[idx] = x[source(idx)]. */
function viewOracle(x: Dense, v: ViewOp): Dense {
  const r = x.shape.length;
  let shape: number[];
  let source: (idx: number[]) => number[];
  switch (v.op) {
    case "none":
      return x;
    case "transpose": {
      const a = normDim(v.a, r);
      const b = normDim(v.b, r);
      shape = [...x.shape];
      shape[a] = x.shape[b]!;
      shape[b] = x.shape[a]!;
      source = (idx) => {
        const s = [...idx];
        s[a] = idx[b]!;
        s[b] = idx[a]!;
        return s;
      };
      break;
    }
    case "slice": {
      // PyTorch slicing: a negative start counts from the end, then clamps to [0, n]; the end is n.
      const d = normDim(v.dim, r);
      const n = x.shape[d]!;
      const start = Math.min(Math.max(v.start < 0 ? v.start + n : v.start, 0), n);
      shape = [...x.shape];
      shape[d] = Math.ceil((n - start) / v.step);
      source = (idx) => {
        const s = [...idx];
        s[d] = start + idx[d]! * v.step;
        return s;
      };
      break;
    }
    case "unsqueezeExpand": {
      // A new dim of `size` at `dim`; every position along it reads the same element.
      shape = [...x.shape.slice(0, v.dim), v.size, ...x.shape.slice(v.dim)];
      source = (idx) => idx.filter((_, k) => k !== v.dim);
      break;
    }
  }
  return { dtype: x.dtype, shape, values: indices(shape).map((idx) => at(x, source(idx))) };
}

const domain = (dtype: DType): Domain =>
  dtype === "int32" ? { min: -(2 ** 31), max: 2 ** 31 - 1, integer: true } : ANY;

export const cases: ConformanceCase[] = DTYPES.map(
  (dtype): ConformanceCase<ViewOp> => ({
    name: `copy[${dtype}]`,
    kernel: "copy",
    dtype,
    ops: [],
    arbitrary: oneTensor(dtype, domain(dtype), {}, viewOpArb),
    run: ([x], v) => {
      const view = applyView(x!, v);
      const out = view.contiguous();
      if (view !== x) view.dispose();
      return out;
    },
    tolerance: "exact",
    oracle: ([x], v) => [viewOracle(readHost(x!), v)],
  }),
);
