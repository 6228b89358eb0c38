/** The `binary` primitive with broadcasting: one row per op. Comparisons and logical ops write bool (exact). */
import type { BinaryOp, DType } from "@tessera/core";
import * as fc from "fast-check";
import { ANY, type Domain } from "../arbitraries.js";
import { ops } from "../ops.js";
import { type ToleranceFamily, tolerance } from "../tolerances.js";
import type { ConformanceCase } from "../types.js";
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
      tolerance: row.family === "exact" ? "exact" : tolerance(dtype, row.family),
    };
  }),
);
