/**
 * The `reduce` primitive through core's public reductions: sum/prod/mean over dim sets (negative dims,
 * keepdim, 0-size dims where the reduction has an identity), amax/amin, argmax/argmin (first index on
 * ties, NaN wins) and max(x, dim) with indices.
 */
import type { DType, Tensor } from "@tessera/core";
import * as fc from "fast-check";
import { axesArb, axisArb, type Domain } from "../arbitraries.js";
import { ops } from "../ops.js";
import { type ToleranceName, tolerance } from "../tolerances.js";
import type { ConformanceCase } from "../types.js";
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
}

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
      tolerance: row.tolerance(dtype),
    }),
  ),
);
