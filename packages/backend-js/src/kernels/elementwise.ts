/**
 * The elementwise primitives: unary, binary, where, copy (with dtype conversion) and fill.
 * Operands are views of the output's shape with arbitrary strides (stride 0 = broadcast).
 * Each op is one `case` whose loop runs over a whole row.
 */
import type { BinaryOp, UnaryOp } from "@tessera/core";
import { forEachRow, planRows } from "./iterate.js";
import { erf, roundHalfEven, sigmoid, sign } from "./math.js";

type Arr = { [i: number]: number; length: number };

export interface StridedOperand {
  data: Arr;
  strides: readonly number[];
  offset: number;
}

export function unaryKernel(
  op: UnaryOp,
  x: StridedOperand,
  out: StridedOperand,
  shape: readonly number[],
): void {
  const plan = planRows(shape, [x.strides, out.strides]);
  const n = plan.inner;
  const [xs, os] = plan.innerStrides as [number, number];
  const a = x.data;
  const o = out.data;
  forEachRow(plan, [x.offset, out.offset], (offs) => {
    let px = offs[0]!;
    let po = offs[1]!;
    const end = po + n * os;
    switch (op) {
      case "neg":
        for (; po !== end; px += xs, po += os) o[po] = -a[px]!;
        break;
      case "abs":
        for (; po !== end; px += xs, po += os) o[po] = Math.abs(a[px]!);
        break;
      case "exp":
        for (; po !== end; px += xs, po += os) o[po] = Math.exp(a[px]!);
        break;
      case "log":
        for (; po !== end; px += xs, po += os) o[po] = Math.log(a[px]!);
        break;
      case "log1p":
        for (; po !== end; px += xs, po += os) o[po] = Math.log1p(a[px]!);
        break;
      case "expm1":
        for (; po !== end; px += xs, po += os) o[po] = Math.expm1(a[px]!);
        break;
      case "sqrt":
        for (; po !== end; px += xs, po += os) o[po] = Math.sqrt(a[px]!);
        break;
      case "rsqrt":
        for (; po !== end; px += xs, po += os) o[po] = 1 / Math.sqrt(a[px]!);
        break;
      case "reciprocal":
        for (; po !== end; px += xs, po += os) o[po] = 1 / a[px]!;
        break;
      case "sin":
        for (; po !== end; px += xs, po += os) o[po] = Math.sin(a[px]!);
        break;
      case "cos":
        for (; po !== end; px += xs, po += os) o[po] = Math.cos(a[px]!);
        break;
      case "tanh":
        for (; po !== end; px += xs, po += os) o[po] = Math.tanh(a[px]!);
        break;
      case "sigmoid":
        for (; po !== end; px += xs, po += os) o[po] = sigmoid(a[px]!);
        break;
      case "relu":
        for (; po !== end; px += xs, po += os) {
          const v = a[px]!;
          o[po] = v > 0 || Number.isNaN(v) ? v : 0;
        }
        break;
      case "erf":
        for (; po !== end; px += xs, po += os) o[po] = erf(a[px]!);
        break;
      case "sign":
        for (; po !== end; px += xs, po += os) o[po] = sign(a[px]!);
        break;
      case "floor":
        for (; po !== end; px += xs, po += os) o[po] = Math.floor(a[px]!);
        break;
      case "ceil":
        for (; po !== end; px += xs, po += os) o[po] = Math.ceil(a[px]!);
        break;
      case "round":
        for (; po !== end; px += xs, po += os) o[po] = roundHalfEven(a[px]!);
        break;
      case "logicalNot":
        for (; po !== end; px += xs, po += os) o[po] = a[px] === 0 ? 1 : 0;
        break;
      case "isnan":
        for (; po !== end; px += xs, po += os) o[po] = Number.isNaN(a[px]!) ? 1 : 0;
        break;
      default:
        throw new Error(`backend-js: unknown unary op '${op as string}'`);
    }
  });
}

export function binaryKernel(
  op: BinaryOp,
  x: StridedOperand,
  y: StridedOperand,
  out: StridedOperand,
  shape: readonly number[],
  intMath: boolean,
): void {
  const plan = planRows(shape, [x.strides, y.strides, out.strides]);
  const n = plan.inner;
  const [xs, ys, os] = plan.innerStrides as [number, number, number];
  const a = x.data;
  const b = y.data;
  const o = out.data;
  forEachRow(plan, [x.offset, y.offset, out.offset], (offs) => {
    let pa = offs[0]!;
    let pb = offs[1]!;
    let po = offs[2]!;
    const end = po + n * os;
    switch (op) {
      case "add":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa]! + b[pb]!;
        break;
      case "sub":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa]! - b[pb]!;
        break;
      case "mul":
        if (intMath) for (; po !== end; pa += xs, pb += ys, po += os) o[po] = Math.imul(a[pa]!, b[pb]!);
        else for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa]! * b[pb]!;
        break;
      case "div":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa]! / b[pb]!;
        break;
      case "pow":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa]! ** b[pb]!;
        break;
      case "maximum":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = Math.max(a[pa]!, b[pb]!);
        break;
      case "minimum":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = Math.min(a[pa]!, b[pb]!);
        break;
      case "eq":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa] === b[pb] ? 1 : 0;
        break;
      case "ne":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa] !== b[pb] ? 1 : 0;
        break;
      case "lt":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa]! < b[pb]! ? 1 : 0;
        break;
      case "le":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa]! <= b[pb]! ? 1 : 0;
        break;
      case "gt":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa]! > b[pb]! ? 1 : 0;
        break;
      case "ge":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa]! >= b[pb]! ? 1 : 0;
        break;
      case "logicalAnd":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa] !== 0 && b[pb] !== 0 ? 1 : 0;
        break;
      case "logicalOr":
        for (; po !== end; pa += xs, pb += ys, po += os) o[po] = a[pa] !== 0 || b[pb] !== 0 ? 1 : 0;
        break;
      default:
        throw new Error(`backend-js: unknown binary op '${op as string}'`);
    }
  });
}

export function whereKernel(
  c: StridedOperand,
  x: StridedOperand,
  y: StridedOperand,
  out: StridedOperand,
  shape: readonly number[],
): void {
  const plan = planRows(shape, [c.strides, x.strides, y.strides, out.strides]);
  const n = plan.inner;
  const [cs, xs, ys, os] = plan.innerStrides as [number, number, number, number];
  const cd = c.data;
  const a = x.data;
  const b = y.data;
  const o = out.data;
  forEachRow(plan, [c.offset, x.offset, y.offset, out.offset], (offs) => {
    let pc = offs[0]!;
    let pa = offs[1]!;
    let pb = offs[2]!;
    let po = offs[3]!;
    for (let i = 0; i < n; i++, pc += cs, pa += xs, pb += ys, po += os)
      o[po] = cd[pc] !== 0 ? a[pa]! : b[pb]!;
  });
}

/** Strided copy; `convert` maps values across dtypes (null when storage representations match). */
export function copyKernel(
  x: StridedOperand,
  out: StridedOperand,
  shape: readonly number[],
  convert: ((v: number) => number) | null,
): void {
  const plan = planRows(shape, [x.strides, out.strides]);
  const n = plan.inner;
  const [xs, os] = plan.innerStrides as [number, number];
  const a = x.data;
  const o = out.data;
  forEachRow(plan, [x.offset, out.offset], (offs) => {
    let px = offs[0]!;
    let po = offs[1]!;
    if (convert) for (let i = 0; i < n; i++, px += xs, po += os) o[po] = convert(a[px]!);
    else for (let i = 0; i < n; i++, px += xs, po += os) o[po] = a[px]!;
  });
}
