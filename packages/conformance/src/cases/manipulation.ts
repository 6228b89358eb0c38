/**
 * Composite-level ops that every model leans on, built by core from copy/gather primitives: cat, pad
 * (constant value, negative pads crop), flip. Exact: they only move values.
 */
import { DTYPES, type DType } from "@tessera/core";
import * as fc from "fast-check";
import { ANY, axisArb, type Domain, shapeArb, tensorArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { at, type Dense, dense, indices, normDim, readHost } from "../oracle.js";
import type { ConformanceCase, HostTensor } from "../types.js";
import { oneTensor } from "./common.js";

const domain = (dtype: DType): Domain => (dtype === "int32" ? { min: -1e6, max: 1e6, integer: true } : ANY);
const TYPES = DTYPES.filter((d) => d !== "float64");

/** torch.cat: the inputs one after another along `dim` (each has the others' shape off `dim`). */
function catOracle(hs: HostTensor[], dim: number): Dense {
  const xs = hs.map(readHost);
  const d = normDim(dim, xs[0]!.shape.length);
  const shape = [...xs[0]!.shape];
  shape[d] = xs.reduce((n, x) => n + x.shape[d]!, 0);
  const values = indices(shape).map((idx) => {
    let i = idx[d]!;
    for (const x of xs) {
      if (i < x.shape[d]!)
        return at(
          x,
          idx.map((v, k) => (k === d ? i : v)),
        );
      i -= x.shape[d]!;
    }
    throw new Error("cat oracle: index past the end");
  });
  return dense(xs[0]!.dtype, shape, values);
}

/**
 * torch.nn.functional.pad, constant mode: pads[2i], pads[2i+1] add (or, negative, crop) elements before
 * and after dim rank-1-i; a position outside x takes `value` (rounded to the dtype).
 */
function padOracle(h: HostTensor, pads: number[], value: number): Dense {
  const x = readHost(h);
  const r = x.shape.length;
  const before = new Array<number>(r).fill(0);
  const shape = [...x.shape];
  for (let i = 0; 2 * i < pads.length; i++) {
    const d = r - 1 - i;
    before[d] = pads[2 * i]!;
    shape[d] = x.shape[d]! + pads[2 * i]! + pads[2 * i + 1]!;
  }
  const values = indices(shape).map((idx) => {
    const src = idx.map((v, k) => v - before[k]!);
    return src.every((v, k) => v >= 0 && v < x.shape[k]!) ? at(x, src) : value;
  });
  return dense(x.dtype, shape, values);
}

/** torch.flip: position i along each flipped dim reads n-1-i. */
function flipOracle(h: HostTensor, dims: number[]): Dense {
  const x = readHost(h);
  const flipped = dims.map((d) => normDim(d, x.shape.length));
  const values = indices(x.shape).map((idx) =>
    at(
      x,
      idx.map((v, k) => (flipped.includes(k) ? x.shape[k]! - 1 - v : v)),
    ),
  );
  return dense(x.dtype, x.shape, values);
}

export const cases: ConformanceCase[] = TYPES.flatMap((dtype): ConformanceCase[] => [
  {
    name: `cat[${dtype}]`,
    kernel: "copy",
    dtype,
    ops: ["cat"],
    arbitrary: shapeArb({ minRank: 1, maxRank: 3, maxNumel: 32 }).chain((shape) =>
      axisArb(shape.length).chain((dim) => {
        const d = dim < 0 ? dim + shape.length : dim;
        return fc
          .array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 })
          .chain((sizes) =>
            fc.tuple(
              ...sizes.map((s) =>
                tensorArb(
                  dtype,
                  shape.map((x, i) => (i === d ? s : x)),
                  domain(dtype),
                ),
              ),
            ),
          )
          .map((inputs: HostTensor[]) => ({ inputs, attrs: { dim } }));
      }),
    ),
    run: (inputs, a: { dim: number }) => ops.cat!(inputs, a.dim),
    oracle: (inputs, a: { dim: number }) => [catOracle(inputs, a.dim)],
    tolerance: "exact",
  },
  {
    name: `pad[${dtype}]`,
    kernel: "copy",
    dtype,
    ops: ["pad"],
    arbitrary: oneTensor(dtype, domain(dtype), { minRank: 1, maxRank: 3, minDim: 2 }, (s) =>
      fc.record({
        pads: fc
          .integer({ min: 1, max: s.length })
          .chain((k) => fc.array(fc.integer({ min: -1, max: 2 }), { minLength: 2 * k, maxLength: 2 * k })),
        value:
          dtype === "bool"
            ? fc.constantFrom(0, 1)
            : dtype === "int32"
              ? fc.integer({ min: -5, max: 5 })
              : fc.constantFrom(0, -0, 1.5, Number.NEGATIVE_INFINITY),
      }),
    ),
    run: ([x], a: { pads: number[]; value: number }) => ops.pad!(x, a.pads, a.value),
    oracle: ([x], a: { pads: number[]; value: number }) => [padOracle(x!, a.pads, a.value)],
    tolerance: "exact",
  },
  {
    name: `flip[${dtype}]`,
    kernel: "copy",
    dtype,
    ops: ["flip"],
    arbitrary: oneTensor(dtype, domain(dtype), { minRank: 1, maxRank: 3 }, (s) =>
      fc.record({
        dims: fc.uniqueArray(fc.integer({ min: 0, max: s.length - 1 }), {
          minLength: 1,
          maxLength: s.length,
        }),
      }),
    ),
    run: ([x], a: { dims: number[] }) => ops.flip!(x, a.dims),
    oracle: ([x], a: { dims: number[] }) => [flipOracle(x!, a.dims)],
    tolerance: "exact",
  },
]);
