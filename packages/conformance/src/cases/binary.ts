/** The `binary` primitive with broadcasting: one row per op. Comparisons and logical ops write bool (exact). */
import type { BinaryOp, DType } from "@tessera/core";
import * as fc from "fast-check";
import { ANY, type Domain } from "../arbitraries.js";
import type { Output } from "../compare.js";
import { ops } from "../ops.js";
import { mapBroadcast, readHost } from "../oracle.js";
import { type ToleranceFamily, tolerance } from "../tolerances.js";
import type { ConformanceCase, HostTensor } from "../types.js";
import { broadcastTensors, FLOATS } from "./common.js";

interface Row {
  op: BinaryOp;
  a: Domain;
  b: Domain;
  family: ToleranceFamily | "exact";
  dtypes: readonly DType[];
}

const ALL: readonly DType[] = [...FLOATS, "int32"];
// |x| < 2^15 keeps int32 products in range: overflow wraps differently across backends and is not the contract.
const INT: Domain = { min: -30000, max: 30000, integer: true };
const POW_BASE: Domain = { min: 0, max: 10, specials: true, tiny: true };
const POW_EXP: Domain = { min: -4, max: 4, specials: true };

const ROWS: Row[] = [
  { op: "add", a: ANY, b: ANY, family: "elementwise", dtypes: ALL },
  { op: "sub", a: ANY, b: ANY, family: "elementwise", dtypes: ALL },
  { op: "mul", a: ANY, b: ANY, family: "elementwise", dtypes: ALL },
  { op: "div", a: ANY, b: ANY, family: "elementwise", dtypes: FLOATS },
  { op: "pow", a: POW_BASE, b: POW_EXP, family: "transcendental", dtypes: FLOATS },
  { op: "maximum", a: ANY, b: ANY, family: "elementwise", dtypes: ALL },
  { op: "minimum", a: ANY, b: ANY, family: "elementwise", dtypes: ALL },
  { op: "eq", a: ANY, b: ANY, family: "exact", dtypes: ALL },
  { op: "ne", a: ANY, b: ANY, family: "exact", dtypes: ALL },
  { op: "lt", a: ANY, b: ANY, family: "exact", dtypes: ALL },
  { op: "le", a: ANY, b: ANY, family: "exact", dtypes: ALL },
  { op: "gt", a: ANY, b: ANY, family: "exact", dtypes: ALL },
  { op: "ge", a: ANY, b: ANY, family: "exact", dtypes: ALL },
  { op: "logicalAnd", a: ANY, b: ANY, family: "exact", dtypes: ["bool", "float32"] },
  { op: "logicalOr", a: ANY, b: ANY, family: "exact", dtypes: ["bool", "float32"] },
];

/**
 * Each op as exact float64 math (int32: the same on integers, then wrapped to int32 — add/sub as `|0`,
 * mul as Math.imul, whose low 32 bits a float64 product past 2⁵³ would lose). maximum/minimum propagate
 * NaN and order −0 below +0 (IEEE 754-2019 maximum/minimum); comparisons with NaN are false except `ne`;
 * logical ops read x ≠ 0 (NaN is true); pow follows C99/PyTorch: pow(x, ±0) = 1 and pow(1, y) = 1 even
 * for NaN y, pow(−1, ±Inf) = 1.
 */
export const BINARY_ORACLE: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => powC(a, b),
  maximum: (a, b) => extremum(a, b, 1),
  minimum: (a, b) => extremum(a, b, -1),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
  logicalAnd: (a, b) => (a !== 0 && b !== 0 ? 1 : 0),
  logicalOr: (a, b) => (a !== 0 || b !== 0 ? 1 : 0),
};

const INT_ORACLE: Partial<Record<BinaryOp, (a: number, b: number) => number>> = {
  add: (a, b) => (a + b) | 0,
  sub: (a, b) => (a - b) | 0,
  mul: (a, b) => Math.imul(a, b),
};

/** The larger (`dir` 1) or smaller (−1) of a and b; NaN if either is; +0 counts above −0. */
function extremum(a: number, b: number, dir: 1 | -1): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN;
  if (a === 0 && b === 0) {
    const bothNeg = Object.is(a, -0) && Object.is(b, -0);
    const bothPos = Object.is(a, 0) && Object.is(b, 0);
    if (bothNeg || bothPos) return a;
    return dir === 1 ? 0 : -0;
  }
  return dir === 1 ? Math.max(a, b) : Math.min(a, b);
}

/** C99 pow (what PyTorch computes) where it differs from JS `**`, which gives NaN for 1 ** NaN and (±1) ** ±Inf. */
function powC(a: number, b: number): number {
  if (b === 0 || a === 1) return 1;
  if (a === -1 && (b === Number.POSITIVE_INFINITY || b === Number.NEGATIVE_INFINITY)) return 1;
  return a ** b;
}

function binaryOracle(op: BinaryOp, dtype: DType, a: HostTensor, b: HostTensor): Output[] {
  const out: DType = COMPARE.has(op) ? "bool" : dtype;
  const f = (dtype === "int32" ? INT_ORACLE[op] : undefined) ?? BINARY_ORACLE[op];
  return [mapBroadcast(out, [readHost(a), readHost(b)], f)];
}

const COMPARE: ReadonlySet<BinaryOp> = new Set([
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
  "logicalAnd",
  "logicalOr",
]);

// Small values make equal operands (ties, eq, ±0 pairs) common; ANY alone rarely draws the same value twice.
const SMALL: Domain = { min: -2, max: 2, integer: true };

export const cases: ConformanceCase[] = ROWS.flatMap((row) =>
  row.dtypes.map((dtype): ConformanceCase => {
    const int = dtype === "int32";
    const cmp = row.family === "exact" && dtype !== "bool";
    const small: Domain = { ...SMALL, specials: true };
    const a = int ? INT : cmp ? small : row.a;
    const b = int ? INT : cmp ? small : row.b;
    // Half the samples draw from small integers with ±0 so ties and signed-zero pairs meet elementwise.
    const arbitrary = fc
      .boolean()
      .chain((s) =>
        broadcastTensors([dtype, dtype], s && !int && row.op !== "pow" ? [small, small] : [a, b]),
      );
    return {
      name: `binary.${row.op}[${dtype}]`,
      kernel: "binary",
      dtype,
      ops: [row.op],
      arbitrary,
      run: ([x, y]) => ops[row.op]!(x, y),
      oracle: ([x, y]) => binaryOracle(row.op, dtype, x!, y!),
      tolerance: row.family === "exact" ? "exact" : tolerance(dtype, row.family),
    };
  }),
);
