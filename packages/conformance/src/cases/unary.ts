/** The `unary` primitive: one row per op (domain, tolerance family, dtypes). */
import type { DType, UnaryOp } from "@tessera/core";
import { ANY, type Domain } from "../arbitraries.js";
import { ops } from "../ops.js";
import { type Dense, dense, readHost, roundHalfEven } from "../oracle.js";
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

/**
 * Each op as exact float64 math with PyTorch's semantics (IEEE NaN/±Inf, relu(NaN) = NaN, sign(±0) = ±0,
 * round half to even); the result is rounded to the output dtype once. int32 inputs are integers, so the
 * same formulas hold and the rounding to int32 wraps like two's complement (neg/abs of −2³¹).
 */
export const UNARY_ORACLE: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  abs: (x) => Math.abs(x),
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  log1p: (x) => Math.log1p(x),
  expm1: (x) => Math.expm1(x),
  sqrt: (x) => Math.sqrt(x),
  rsqrt: (x) => 1 / Math.sqrt(x),
  reciprocal: (x) => 1 / x,
  sin: (x) => Math.sin(x),
  cos: (x) => Math.cos(x),
  tanh: (x) => Math.tanh(x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  // Math.max propagates NaN and gives +0 for -0.
  relu: (x) => Math.max(x, 0),
  erf: (x) => erf64(x),
  sign: (x) => (Number.isNaN(x) ? x : x > 0 ? 1 : x < 0 ? -1 : x),
  floor: (x) => Math.floor(x),
  ceil: (x) => Math.ceil(x),
  round: (x) => roundHalfEven(x),
  logicalNot: (x) => (x === 0 ? 1 : 0),
  isnan: (x) => (Number.isNaN(x) ? 1 : 0),
};

/**
 * erf in float64: its Maclaurin series below |x| = 2 (terms stay small, so no cancellation), and the
 * continued fraction erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) above.
 */
export function erf64(x: number): number {
  if (Number.isNaN(x)) return x;
  if (x === 0) return x;
  const ax = Math.abs(x);
  if (ax < 2) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 60; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  let f = ax;
  for (let k = 120; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

function unaryOracle(op: UnaryOp, x: Dense): Dense {
  const out: DType = op === "isnan" || op === "logicalNot" ? "bool" : x.dtype;
  return dense(out, x.shape, x.values.map(UNARY_ORACLE[op]));
}

export const cases: ConformanceCase[] = ROWS.flatMap((row) =>
  row.dtypes.map(
    (dtype): ConformanceCase => ({
      name: `unary.${row.op}[${dtype}]`,
      kernel: "unary",
      dtype,
      ops: [row.op],
      arbitrary: oneTensor(dtype, dtype === "int32" ? INT : row.domain),
      run: ([x]) => ops[row.op]!(x),
      oracle: ([x]) => [unaryOracle(row.op, readHost(x!))],
      // Predicates write bool: exact.
      tolerance: row.op === "isnan" || row.op === "logicalNot" ? "exact" : tolerance(dtype, row.family),
    }),
  ),
);
