/**
 * The elementwise primitives: unary, binary, where, copy (with dtype conversion) and fill.
 * Operands are views of the output's shape with arbitrary strides (stride 0 = broadcast).
 * Each op is one `case` whose loop runs over a whole row.
 */
import {
  type BinaryOp,
  bf16ToF32,
  type DType,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  isContiguous,
  isHalf,
  numel,
  type StorageArray,
  type UnaryOp,
} from "@tessera/core";
import { forEachRow, planRows } from "./iterate.js";
import { erf, pow, roundHalfEven, sigmoid, sign } from "./math.js";

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
  if (isContiguous(shape, x.strides) && isContiguous(shape, out.strides)) {
    // One row covering the whole tensor: no row planning, no per-row callback.
    unaryRow(op, x.data, x.offset, 1, out.data, out.offset, 1, numel(shape));
    return;
  }
  const plan = planRows(shape, [x.strides, out.strides]);
  const [xs, os] = plan.innerStrides as [number, number];
  forEachRow(plan, [x.offset, out.offset], (offs) =>
    unaryRow(op, x.data, offs[0]!, xs, out.data, offs[1]!, os, plan.inner),
  );
}

function unaryRow(
  op: UnaryOp,
  a: Arr,
  px: number,
  xs: number,
  o: Arr,
  po: number,
  os: number,
  n: number,
): void {
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
}

export function binaryKernel(
  op: BinaryOp,
  x: StridedOperand,
  y: StridedOperand,
  out: StridedOperand,
  shape: readonly number[],
  intMath: boolean,
): void {
  if (isContiguous(shape, x.strides) && isContiguous(shape, y.strides) && isContiguous(shape, out.strides)) {
    binaryRow(op, x.data, x.offset, 1, y.data, y.offset, 1, out.data, out.offset, 1, numel(shape), intMath);
    return;
  }
  const plan = planRows(shape, [x.strides, y.strides, out.strides]);
  const [xs, ys, os] = plan.innerStrides as [number, number, number];
  forEachRow(plan, [x.offset, y.offset, out.offset], (offs) =>
    binaryRow(op, x.data, offs[0]!, xs, y.data, offs[1]!, ys, out.data, offs[2]!, os, plan.inner, intMath),
  );
}

function binaryRow(
  op: BinaryOp,
  a: Arr,
  pa: number,
  xs: number,
  b: Arr,
  pb: number,
  ys: number,
  o: Arr,
  po: number,
  os: number,
  n: number,
  intMath: boolean,
): void {
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
      for (; po !== end; pa += xs, pb += ys, po += os) o[po] = pow(a[pa]!, b[pb]!);
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
}

export function whereKernel(
  c: StridedOperand,
  x: StridedOperand,
  y: StridedOperand,
  out: StridedOperand,
  shape: readonly number[],
): void {
  if ([c, x, y, out].every((v) => isContiguous(shape, v.strides))) {
    whereRow(
      c.data,
      c.offset,
      1,
      x.data,
      x.offset,
      1,
      y.data,
      y.offset,
      1,
      out.data,
      out.offset,
      1,
      numel(shape),
    );
    return;
  }
  const plan = planRows(shape, [c.strides, x.strides, y.strides, out.strides]);
  const [cs, xs, ys, os] = plan.innerStrides as [number, number, number, number];
  forEachRow(plan, [c.offset, x.offset, y.offset, out.offset], (offs) =>
    whereRow(
      c.data,
      offs[0]!,
      cs,
      x.data,
      offs[1]!,
      xs,
      y.data,
      offs[2]!,
      ys,
      out.data,
      offs[3]!,
      os,
      plan.inner,
    ),
  );
}

function whereRow(
  cd: Arr,
  pc: number,
  cs: number,
  a: Arr,
  pa: number,
  xs: number,
  b: Arr,
  pb: number,
  ys: number,
  o: Arr,
  po: number,
  os: number,
  n: number,
): void {
  for (let i = 0; i < n; i++, pc += cs, pa += xs, pb += ys, po += os) o[po] = cd[pc] !== 0 ? a[pa]! : b[pb]!;
}

/**
 * How a copy converts values, chosen once per call so each case is its own typed loop:
 * - raw: plain assignment (typed-array stores already round to float32, truncate to int32, and map
 *   NaN/±Inf to 0 for int32, which is the contract's float→int rule);
 * - toBool: x != 0 (NaN counts as true);
 * - decode/encode/recode: float16 or bfloat16 bits on the source and/or destination side;
 * - decodeToBool: half bits → value → x != 0.
 */
export type CopyMode =
  | "raw"
  | "toBool"
  | "decode16"
  | "decodeBf16"
  | "encode16"
  | "encodeBf16"
  | "recode"
  | "decodeToBool";

export function copyMode(from: DType, to: DType): CopyMode {
  if (from === to) return "raw";
  const fromHalf = isHalf(from);
  if (fromHalf && isHalf(to)) return "recode";
  if (fromHalf) return to === "bool" ? "decodeToBool" : from === "float16" ? "decode16" : "decodeBf16";
  if (to === "float16") return "encode16";
  if (to === "bfloat16") return "encodeBf16";
  if (to === "bool") return "toBool";
  return "raw";
}

/** Strided copy with conversion; `from`/`to` are needed only by the half and recode modes. */
export function copyKernel(
  x: StridedOperand,
  out: StridedOperand,
  shape: readonly number[],
  mode: CopyMode,
  from: DType,
  to: DType,
): void {
  if (isContiguous(shape, x.strides) && isContiguous(shape, out.strides)) {
    const n = numel(shape);
    if (
      mode === "raw" &&
      (x.data as unknown as { constructor: unknown }).constructor ===
        (out.data as unknown as { constructor: unknown }).constructor
    ) {
      // Same storage type: a memcpy.
      const src = x.data as unknown as StorageArray;
      (out.data as unknown as StorageArray).set(src.subarray(x.offset, x.offset + n) as never, out.offset);
      return;
    }
    copyRow(mode, from, to, x.data, x.offset, 1, out.data, out.offset, 1, n);
    return;
  }
  const plan = planRows(shape, [x.strides, out.strides]);
  const [xs, os] = plan.innerStrides as [number, number];
  forEachRow(plan, [x.offset, out.offset], (offs) =>
    copyRow(mode, from, to, x.data, offs[0]!, xs, out.data, offs[1]!, os, plan.inner),
  );
}

function copyRow(
  mode: CopyMode,
  from: DType,
  to: DType,
  a: Arr,
  px: number,
  xs: number,
  o: Arr,
  po: number,
  os: number,
  n: number,
): void {
  switch (mode) {
    case "raw":
      for (let i = 0; i < n; i++, px += xs, po += os) o[po] = a[px]!;
      break;
    case "toBool":
      for (let i = 0; i < n; i++, px += xs, po += os) o[po] = a[px] !== 0 ? 1 : 0;
      break;
    case "decode16":
      for (let i = 0; i < n; i++, px += xs, po += os) o[po] = f16ToF32(a[px]!);
      break;
    case "decodeBf16":
      for (let i = 0; i < n; i++, px += xs, po += os) o[po] = bf16ToF32(a[px]!);
      break;
    case "encode16":
      for (let i = 0; i < n; i++, px += xs, po += os) o[po] = f32ToF16(a[px]!);
      break;
    case "encodeBf16":
      for (let i = 0; i < n; i++, px += xs, po += os) o[po] = f32ToBf16(a[px]!);
      break;
    case "decodeToBool": {
      const is16 = from === "float16";
      for (let i = 0; i < n; i++, px += xs, po += os)
        o[po] = (is16 ? f16ToF32(a[px]!) : bf16ToF32(a[px]!)) !== 0 ? 1 : 0;
      break;
    }
    case "recode": {
      const is16 = from === "float16";
      const to16 = to === "float16";
      for (let i = 0; i < n; i++, px += xs, po += os) {
        const v = is16 ? f16ToF32(a[px]!) : bf16ToF32(a[px]!);
        o[po] = to16 ? f32ToF16(v) : f32ToBf16(v);
      }
      break;
    }
  }
}
