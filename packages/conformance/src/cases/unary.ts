/** The `unary` primitive: one row per op (domain, tolerance family, dtypes). */
import type { DType, UnaryOp } from "@tessera/core";
import { ANY, type Domain } from "../arbitraries.js";
import { ops } from "../ops.js";
import { type ToleranceFamily, tolerance } from "../tolerances.js";
import type { ConformanceCase } from "../types.js";
import { FLOATS, oneTensor } from "./common.js";

interface Row {
  op: UnaryOp;
  domain: Domain;
  family: ToleranceFamily;
  dtypes: readonly DType[];
}

const SIGNED: readonly DType[] = [...FLOATS, "int32"];
const INT: Domain = { min: -1000, max: 1000, integer: true };
// Transcendentals on a range where libm implementations are accurate (sin(1e30) is range-reduction lore).
const TRIG: Domain = { min: -10, max: 10, specials: true, tiny: true };

const ROWS: Row[] = [
  { op: "neg", domain: ANY, family: "elementwise", dtypes: SIGNED },
  { op: "abs", domain: ANY, family: "elementwise", dtypes: SIGNED },
  {
    op: "exp",
    domain: { min: -20, max: 20, specials: true, tiny: true },
    family: "transcendental",
    dtypes: FLOATS,
  },
  {
    op: "log",
    domain: { min: -1, max: 1e3, specials: true, tiny: true },
    family: "transcendental",
    dtypes: FLOATS,
  },
  {
    op: "log1p",
    domain: { min: -1, max: 1e3, specials: true, tiny: true },
    family: "transcendental",
    dtypes: FLOATS,
  },
  {
    op: "expm1",
    domain: { min: -20, max: 20, specials: true, tiny: true },
    family: "transcendental",
    dtypes: FLOATS,
  },
  {
    op: "sqrt",
    domain: { min: -1, max: 1e4, specials: true, tiny: true, huge: true },
    family: "elementwise",
    dtypes: FLOATS,
  },
  {
    op: "rsqrt",
    domain: { min: 0, max: 1e4, specials: true, tiny: true },
    family: "transcendental",
    dtypes: FLOATS,
  },
  { op: "reciprocal", domain: ANY, family: "elementwise", dtypes: FLOATS },
  { op: "sin", domain: TRIG, family: "transcendental", dtypes: FLOATS },
  { op: "cos", domain: TRIG, family: "transcendental", dtypes: FLOATS },
  { op: "tanh", domain: TRIG, family: "transcendental", dtypes: FLOATS },
  {
    op: "sigmoid",
    domain: { min: -30, max: 30, specials: true, tiny: true },
    family: "transcendental",
    dtypes: FLOATS,
  },
  { op: "relu", domain: ANY, family: "elementwise", dtypes: SIGNED },
  {
    op: "erf",
    domain: { min: -5, max: 5, specials: true, tiny: true },
    family: "transcendental",
    dtypes: FLOATS,
  },
  { op: "sign", domain: ANY, family: "elementwise", dtypes: SIGNED },
  { op: "floor", domain: ANY, family: "elementwise", dtypes: SIGNED },
  { op: "ceil", domain: ANY, family: "elementwise", dtypes: SIGNED },
  { op: "round", domain: ANY, family: "elementwise", dtypes: SIGNED },
  { op: "isnan", domain: ANY, family: "elementwise", dtypes: FLOATS },
  { op: "logicalNot", domain: ANY, family: "elementwise", dtypes: ["bool", "float32"] },
];

export const cases: ConformanceCase[] = ROWS.flatMap((row) =>
  row.dtypes.map(
    (dtype): ConformanceCase => ({
      name: `unary.${row.op}[${dtype}]`,
      kernel: "unary",
      dtype,
      ops: [row.op],
      arbitrary: oneTensor(dtype, dtype === "int32" ? INT : row.domain),
      run: ([x]) => ops[row.op]!(x),
      // Predicates write bool: exact.
      tolerance: row.op === "isnan" || row.op === "logicalNot" ? "exact" : tolerance(dtype, row.family),
    }),
  ),
);
