/**
 * The `reduce` primitive through core's public reductions: sum/prod/mean over dim sets (negative dims,
 * keepdim, 0-size dims where the reduction has an identity), amax/amin, argmax/argmin (first index on
 * ties, NaN wins) and max(x, dim) with indices.
 */
import type { DType, Tensor } from "@tessera/core";
import * as fc from "fast-check";
import { axesArb, axisArb, type Domain } from "../arbitraries.js";
import type { Output } from "../compare.js";
import { ops } from "../ops.js";
import { type Dense, dense, indices, normDim, readHost } from "../oracle.js";
import { type ToleranceName, tolerance } from "../tolerances.js";
import type { ConformanceCase, HostTensor } from "../types.js";
import { FLOATS, oneTensor } from "./common.js";

interface Attrs {
  dims: number[] | number | undefined;
  keepdim: boolean;
}

// |x| ≤ 16 and ≤ 96 elements keep sums and products inside the reduction tolerance's assumptions.
const VALUES: Domain = { min: -16, max: 16, specials: true, tiny: true };
const PROD: Domain = { min: -2, max: 2, specials: true };
const TIES: Domain = { min: -3, max: 3, integer: true, specials: true };
const INT: Domain = { min: -1000, max: 1000, integer: true };

const dimsAttrs = (shape: number[]) =>
  fc.record({ dims: fc.option(axesArb(shape.length), { nil: undefined }), keepdim: fc.boolean() });
const oneDimAttrs = (shape: number[]) =>
  fc.record({ dims: fc.option(axisArb(shape.length), { nil: undefined }), keepdim: fc.boolean() });

// ---- oracle -------------------------------------------------------------------------------------

type Reducer = "sum" | "mean" | "prod" | "max" | "min" | "argmax" | "argmin";

/**
 * The reduced axes, sorted, from a dim, a list of dims or undefined (every dim); negative dims count
 * from the end. A 0-d tensor reduces over nothing (its dim 0 / -1 names the tensor itself).
 */
function reducedAxes(rank: number, dims: number[] | number | undefined): number[] {
  if (rank === 0) return [];
  if (dims === undefined || (Array.isArray(dims) && dims.length === 0))
    return Array.from({ length: rank }, (_, i) => i);
  const list = typeof dims === "number" ? [dims] : dims;
  return [...new Set(list.map((d) => normDim(d, rank)))].sort((a, b) => a - b);
}

/**
 * Groups x's elements by output position: for each output element (row-major), the input elements that
 * reduce into it, in row-major input order — so along one reduced axis they come in index order.
 */
function groups(x: Dense, axes: readonly number[], keepdim: boolean): { shape: number[]; lists: number[][] } {
  const kept = x.shape.map((_, k) => !axes.includes(k));
  const keyShape = x.shape.filter((_, k) => kept[k]);
  const keyStrides = keyShape.map((_, k) => keyShape.slice(k + 1).reduce((a, b) => a * b, 1));
  const lists: number[][] = Array.from({ length: keyShape.reduce((a, b) => a * b, 1) }, () => []);
  indices(x.shape).forEach((idx, flat) => {
    const key = idx.filter((_, k) => kept[k]).reduce((p, i, k) => p + i * keyStrides[k]!, 0);
    lists[key]!.push(x.values[flat]!);
  });
  const shape = keepdim ? x.shape.map((d, k) => (kept[k] ? d : 1)) : keyShape;
  return { shape, lists };
}

/** First index of the largest (argmax) or smallest value; the first NaN wins, as in PyTorch. */
function argExtreme(list: readonly number[], max: boolean): number {
  let best = 0;
  for (let i = 0; i < list.length; i++) {
    const v = list[i]!;
    if (Number.isNaN(v)) return i;
    if (max ? v > list[best]! : v < list[best]!) best = i;
  }
  return best;
}

/** max/min over a list: NaN if any element is NaN. */
function extreme(list: readonly number[], max: boolean): number {
  let r = max ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  for (const v of list) {
    if (Number.isNaN(v)) return v;
    if (max ? v > r : v < r) r = v;
  }
  return r;
}

/** One list reduced in float64 (int32: sums wrap with `|0` and products with Math.imul at every step). */
function reduceList(op: Reducer, list: readonly number[], int: boolean): number {
  switch (op) {
    case "sum":
      return list.reduce((a, b) => (int ? (a + b) | 0 : a + b), 0);
    case "mean":
      return list.reduce((a, b) => a + b, 0) / list.length;
    case "prod":
      return list.reduce((a, b) => (int ? Math.imul(a, b) : a * b), 1);
    case "max":
      return extreme(list, true);
    case "min":
      return extreme(list, false);
    case "argmax":
      return argExtreme(list, true);
    case "argmin":
      return argExtreme(list, false);
  }
}

function reduceOracle(op: Reducer, h: HostTensor, a: Attrs): Dense {
  const x = readHost(h);
  const outDtype: DType = op === "argmax" || op === "argmin" ? "int32" : x.dtype;
  const int = x.dtype === "int32";
  if ((op === "argmax" || op === "argmin") && a.dims === undefined) {
    // No dim: an index into the flattened tensor (shape [] or, with keepdim, all ones).
    const shape = a.keepdim ? x.shape.map(() => 1) : [];
    return dense(outDtype, shape, [reduceList(op, x.values, int)]);
  }
  const { shape, lists } = groups(x, reducedAxes(x.shape.length, a.dims), a.keepdim);
  return dense(
    outDtype,
    shape,
    lists.map((l) => reduceList(op, l, int)),
  );
}

// ---- cases ----------------------------------------------------------------------------------------

interface Row {
  name: string;
  dtypes: readonly DType[];
  domain: Domain;
  /** Reductions without an identity (max, argmax…) need non-empty reduced dims. */
  nonEmpty: boolean;
  attrs: (shape: number[]) => fc.Arbitrary<Attrs>;
  ops: string[];
  run(x: Tensor, a: Attrs): Tensor | Tensor[];
  tolerance(dtype: DType): ToleranceName;
  oracle(x: HostTensor, a: Attrs): Output[];
}

const one =
  (op: Reducer) =>
  (x: HostTensor, a: Attrs): Output[] => [reduceOracle(op, x, a)];

const red = (dtype: DType) => tolerance(dtype, "reduction");
const exact = (): ToleranceName => "exact";

const ROWS: Row[] = [
  {
    name: "sum",
    dtypes: [...FLOATS, "int32"],
    domain: VALUES,
    nonEmpty: false,
    attrs: dimsAttrs,
    ops: ["sum"],
    oracle: one("sum"),
    run: (x, a) => ops.sum!(x, a.dims, a.keepdim),
    tolerance: red,
  },
  {
    name: "mean",
    dtypes: FLOATS,
    domain: VALUES,
    nonEmpty: false,
    attrs: dimsAttrs,
    ops: ["mean"],
    oracle: one("mean"),
    run: (x, a) => ops.mean!(x, a.dims, a.keepdim),
    tolerance: red,
  },
  {
    name: "prod",
    dtypes: [...FLOATS, "int32"],
    domain: PROD,
    nonEmpty: false,
    attrs: dimsAttrs,
    ops: ["prod"],
    oracle: one("prod"),
    run: (x, a) => ops.prod!(x, a.dims, a.keepdim),
    tolerance: red,
  },
  {
    name: "amax",
    dtypes: [...FLOATS, "int32"],
    domain: VALUES,
    nonEmpty: true,
    attrs: dimsAttrs,
    ops: ["amax"],
    oracle: one("max"),
    run: (x, a) => ops.amax!(x, a.dims, a.keepdim),
    tolerance: exact,
  },
  {
    name: "amin",
    dtypes: [...FLOATS, "int32"],
    domain: VALUES,
    nonEmpty: true,
    attrs: dimsAttrs,
    ops: ["amin"],
    oracle: one("min"),
    run: (x, a) => ops.amin!(x, a.dims, a.keepdim),
    tolerance: exact,
  },
  {
    name: "argmax",
    dtypes: [...FLOATS, "int32"],
    domain: TIES,
    nonEmpty: true,
    attrs: oneDimAttrs,
    ops: ["argmax"],
    oracle: one("argmax"),
    run: (x, a) => ops.argmax!(x, a.dims, a.keepdim),
    tolerance: exact,
  },
  {
    name: "argmin",
    dtypes: [...FLOATS, "int32"],
    domain: TIES,
    nonEmpty: true,
    attrs: oneDimAttrs,
    ops: ["argmin"],
    oracle: one("argmin"),
    run: (x, a) => ops.argmin!(x, a.dims, a.keepdim),
    tolerance: exact,
  },
  {
    name: "max.dim",
    dtypes: FLOATS,
    domain: TIES,
    nonEmpty: true,
    attrs: (s) => fc.record({ dims: axisArb(s.length), keepdim: fc.boolean() }),
    ops: ["max"],
    oracle: (x, a) => [reduceOracle("max", x, a), reduceOracle("argmax", x, a)],
    run: (x, a) => {
      const r = ops.max!(x, a.dims, a.keepdim);
      return [r.values, r.indices];
    },
    tolerance: exact,
  },
];

export const cases: ConformanceCase[] = ROWS.flatMap((row) =>
  row.dtypes.map(
    (dtype): ConformanceCase<Attrs> => ({
      name: `reduce.${row.name}[${dtype}]`,
      kernel: "reduce",
      dtype,
      ops: row.ops,
      arbitrary: oneTensor(
        dtype,
        dtype === "int32" ? (row.name === "prod" ? { min: -3, max: 3, integer: true } : INT) : row.domain,
        { minDim: row.nonEmpty ? 1 : 0 },
        row.attrs,
      ),
      run: ([x], a) => row.run(x!, a),
      oracle: ([x], a) => row.oracle(x!, a),
      tolerance: row.tolerance(dtype),
    }),
  ),
);
