/**
 * fast-check arbitraries for conformance samples: shapes (0-size, size-1, odd and broadcast dims),
 * layouts (transposed, permuted, strided-slice and expanded views) and values (±0, huge, tiny and
 * subnormal, NaN/±Inf where a case declares them defined). Sizes stay small: a case runs 100 times.
 */
import { type DType, numel, type Tensor, tensor } from "@tessera/core";
import * as fc from "fast-check";
import { fmtNumber } from "./compare.js";
import type { HostTensor, Sample, ViewSpec } from "./types.js";

// ---- values -----------------------------------------------------------------------------------

export interface Domain {
  min: number;
  max: number;
  /** Include NaN and ±Inf (only where the op defines them). */
  specials?: boolean;
  /** Include subnormals and values near the smallest normal. */
  tiny?: boolean;
  /** Include values near the dtype's largest finite value. */
  huge?: boolean;
  /** Integers only (int32 tensors, or floats that must be integral). */
  integer?: boolean;
}

/** Moderate values, the default for reductions, matmul and fused kernels. */
export const MODERATE: Domain = { min: -8, max: 8 };
/** Everything, including the IEEE specials: for ops defined on the whole float line. */
export const ANY: Domain = { min: -1e4, max: 1e4, specials: true, tiny: true, huge: true };

const HUGE: Partial<Record<DType, number[]>> = {
  float32: [3.4e38, -3.4e38, 1e30, -1e30],
  float64: [1.7e308, -1.7e308, 1e30, -1e30],
  float16: [65504, -65504, 6e4, -6e4],
  bfloat16: [3.38e38, -3.38e38, 1e30, -1e30],
};
const TINY: Partial<Record<DType, number[]>> = {
  float32: [1e-40, -1e-40, 1.4e-45, -1.4e-45, 1.1754944e-38],
  float64: [5e-324, -5e-324, 2.2250738585072014e-308],
  float16: [5.96e-8, -5.96e-8, 6.1e-5, -6.1e-5],
  bfloat16: [1e-39, -1e-39, 1.1754944e-38, -1.1754944e-38],
};
const STEPS = 1 << 20;

export function valueArb(dtype: DType, d: Domain): fc.Arbitrary<number> {
  if (dtype === "bool") return fc.constantFrom(0, 1);
  if (dtype === "int32" || d.integer) {
    const lo = Math.ceil(d.min);
    const hi = Math.floor(d.max);
    const parts: fc.WeightedArbitrary<number>[] = [
      { arbitrary: fc.integer({ min: lo, max: hi }), weight: 8 },
      { arbitrary: fc.constantFrom(lo, hi, Math.min(Math.max(0, lo), hi)), weight: 1 },
    ];
    if (dtype !== "int32" && lo <= 0 && hi >= 0) parts.push({ arbitrary: fc.constant(-0), weight: 1 });
    if (dtype !== "int32" && d.specials) {
      parts.push({
        arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
        weight: 1,
      });
    }
    return fc.oneof(...parts);
  }
  const inDomain = (x: number) => x >= d.min && x <= d.max;
  const consts = [0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5].filter(inDomain);
  const parts: fc.WeightedArbitrary<number>[] = [
    {
      arbitrary: fc.integer({ min: 0, max: STEPS }).map((i) => d.min + ((d.max - d.min) * i) / STEPS),
      weight: 12,
    },
  ];
  if (consts.length) parts.push({ arbitrary: fc.constantFrom(...consts), weight: 3 });
  const fmin = Math.fround(d.min);
  const fmax = Math.fround(d.max);
  if (fmin >= d.min && fmax <= d.max && fmin <= fmax) {
    // Spread over bit patterns: many tiny magnitudes and exponents the uniform part never reaches.
    parts.push({
      arbitrary: fc.float({ min: fmin, max: fmax, noNaN: true, noDefaultInfinity: true }),
      weight: 2,
    });
  }
  const tiny = (TINY[dtype] ?? []).filter(inDomain);
  if (d.tiny && tiny.length) parts.push({ arbitrary: fc.constantFrom(...tiny), weight: 1 });
  if (d.huge) parts.push({ arbitrary: fc.constantFrom(...(HUGE[dtype] ?? [])), weight: 1 });
  if (d.specials)
    parts.push({
      arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
      weight: 1,
    });
  return fc.oneof(...parts);
}

export function valuesArb(dtype: DType, n: number, d: Domain): fc.Arbitrary<number[]> {
  return fc.array(valueArb(dtype, d), { minLength: n, maxLength: n });
}

// ---- shapes -----------------------------------------------------------------------------------

export interface ShapeOptions {
  minRank?: number;
  maxRank?: number;
  /** Smallest size of any dim (1 excludes 0-size dims). */
  minDim?: number;
  maxDim?: number;
  maxNumel?: number;
}

/** A dim size: 0-size, size-1, small and odd sizes. */
export function dimArb(minDim = 0, maxDim = 7): fc.Arbitrary<number> {
  const parts: fc.WeightedArbitrary<number>[] = [];
  if (minDim <= 0) parts.push({ arbitrary: fc.constant(0), weight: 1 });
  if (minDim <= 1 && maxDim >= 1) parts.push({ arbitrary: fc.constant(1), weight: 3 });
  const lo = Math.max(minDim, 2);
  if (lo <= Math.min(4, maxDim))
    parts.push({ arbitrary: fc.integer({ min: lo, max: Math.min(4, maxDim) }), weight: 6 });
  if (maxDim >= 5)
    parts.push({ arbitrary: fc.integer({ min: Math.max(5, minDim), max: maxDim }), weight: 2 });
  return fc.oneof(...parts);
}

export function shapeArb(o: ShapeOptions = {}): fc.Arbitrary<number[]> {
  const { minRank = 0, maxRank = 4, minDim = 0, maxDim = 7, maxNumel = 96 } = o;
  return fc
    .array(dimArb(minDim, maxDim), { minLength: minRank, maxLength: maxRank })
    .map((s) => capNumel(s, maxNumel, minDim));
}

function capNumel(shape: number[], maxNumel: number, minDim: number): number[] {
  const s = [...shape];
  while (numel(s) > maxNumel) {
    let k = 0;
    for (let i = 1; i < s.length; i++) if (s[i]! > s[k]!) k = i;
    if (s[k]! <= Math.max(minDim, 1)) break;
    s[k]!--;
  }
  return s;
}

/** An output shape and, per operand, a shape that broadcasts to it (leading dims dropped, dims set to 1). */
export function broadcastShapesArb(
  operands: number,
  o: ShapeOptions = {},
): fc.Arbitrary<{ out: number[]; inputs: number[][] }> {
  return shapeArb(o).chain((out) => {
    const one = fc
      .tuple(
        fc.integer({ min: 0, max: out.length }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: out.length, maxLength: out.length }),
      )
      .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] === 0 ? 1 : d)));
    return fc.tuple(...Array.from({ length: operands }, () => one)).map((inputs) => {
      // Make sure the broadcast still produces `out`: at least one operand keeps each dim.
      const rank = out.length;
      const fixed = inputs.map((s) => [...s]);
      for (let k = 0; k < rank; k++) {
        const keeps = fixed.some((s) => {
          const j = k - (rank - s.length);
          return j >= 0 && s[j] === out[k];
        });
        if (!keeps) {
          const s = fixed[0]!;
          while (s.length < rank - k) s.unshift(1);
          s[k - (rank - s.length)] = out[k]!;
        }
      }
      return { out, inputs: fixed };
    });
  });
}

// ---- layouts ----------------------------------------------------------------------------------

export interface Layout {
  base: number[];
  view: ViewSpec;
}

/** How `shape` is reached: contiguous, or a transposed/permuted/sliced/expanded view of other storage. */
export function layoutArb(shape: readonly number[]): fc.Arbitrary<Layout> {
  const r = shape.length;
  const parts: fc.WeightedArbitrary<Layout>[] = [
    { arbitrary: fc.constant({ base: [...shape], view: { kind: "contiguous" } }), weight: 4 },
  ];
  if (r >= 2) {
    parts.push({
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: r - 1 }), fc.integer({ min: 1, max: r - 1 }))
        .map(([i, k]): Layout => {
          const j = (i + k) % r;
          const base = [...shape];
          [base[i], base[j]] = [base[j]!, base[i]!];
          return { base, view: { kind: "transpose", dim0: Math.min(i, j), dim1: Math.max(i, j) } };
        }),
      weight: 2,
    });
  }
  if (r >= 3) {
    const ids = Array.from({ length: r }, (_, i) => i);
    parts.push({
      arbitrary: fc.shuffledSubarray(ids, { minLength: r, maxLength: r }).map((perm): Layout => {
        const base = new Array<number>(r);
        perm.forEach((p, i) => {
          base[p] = shape[i]!;
        });
        return { base, view: { kind: "permute", perm } };
      }),
      weight: 1,
    });
  }
  if (r >= 1) {
    parts.push({
      arbitrary: fc
        .tuple(
          fc.integer({ min: 0, max: r - 1 }),
          fc.integer({ min: 0, max: 2 }),
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 0, max: 1 }),
        )
        .map(([dim, start, step, extra]): Layout => {
          const base = [...shape];
          const n = shape[dim]!;
          base[dim] = n === 0 ? start : start + (n - 1) * step + 1 + extra;
          return { base, view: { kind: "slice", dim, start, step } };
        }),
      weight: 2,
    });
  }
  const expandable = shape.flatMap((d, i) => (d !== 1 ? [i] : []));
  if (expandable.length) {
    parts.push({
      arbitrary: fc.subarray(expandable, { minLength: 1 }).map(
        (dims): Layout => ({
          base: shape.map((d, i) => (dims.includes(i) ? 1 : d)),
          view: { kind: "expand" },
        }),
      ),
      weight: 1,
    });
  }
  return fc.oneof(...parts);
}

export interface TensorOptions {
  /** Allow non-contiguous views (default true). */
  views?: boolean;
}

export function tensorArb(
  dtype: DType,
  shape: readonly number[],
  d: Domain,
  o: TensorOptions = {},
): fc.Arbitrary<HostTensor> {
  const layout =
    o.views === false
      ? fc.constant<Layout>({ base: [...shape], view: { kind: "contiguous" } })
      : layoutArb(shape);
  return layout.chain(({ base, view }) =>
    valuesArb(dtype, numel(base), d).map(
      (values): HostTensor => ({ dtype, shape: [...shape], base, values, view }),
    ),
  );
}

/** A contiguous host tensor from given values (indices, targets, fixed parameters). */
export function hostTensor(dtype: DType, shape: readonly number[], values: number[]): HostTensor {
  return { dtype, shape: [...shape], base: [...shape], values, view: { kind: "contiguous" } };
}

// ---- attributes -------------------------------------------------------------------------------

/** A dim of a rank-`rank` tensor, negative half the time (rank 0 accepts 0 and -1, like PyTorch). */
export function axisArb(rank: number): fc.Arbitrary<number> {
  const r = Math.max(rank, 1);
  return fc.integer({ min: -r, max: r - 1 });
}

/** A non-empty set of distinct dims, each possibly negative. */
export function axesArb(rank: number): fc.Arbitrary<number[]> {
  if (rank === 0) return fc.constant([]);
  const ids = Array.from({ length: rank }, (_, i) => i);
  return fc
    .tuple(fc.subarray(ids, { minLength: 1 }), fc.array(fc.boolean(), { minLength: rank, maxLength: rank }))
    .map(([dims, neg]) => dims.map((d) => (neg[d] ? d - rank : d)));
}

// ---- materialisation and reporting -------------------------------------------------------------

/** Builds the host tensor on the active backend: storage from `values`, then the view. */
export function materialize(h: HostTensor): Tensor {
  const base = tensor(Float64Array.from(h.values), { dtype: h.dtype, shape: h.base });
  let view: Tensor;
  const v = h.view;
  switch (v.kind) {
    case "contiguous":
      return base;
    case "transpose":
      view = base.transpose(v.dim0, v.dim1);
      break;
    case "permute": {
      // base[perm[i]] = shape[i], so permute(perm) restores the logical order.
      view = base.permute(v.perm);
      break;
    }
    case "slice":
      view = base.slice(v.dim, v.start, v.start + h.shape[v.dim]! * v.step, v.step);
      break;
    case "expand":
      view = base.expand(h.shape);
      break;
  }
  base.dispose();
  return view;
}

const fmtList = (xs: readonly number[]) => `[${xs.map(fmtNumber).join(", ")}]`;

function describeView(h: HostTensor): string {
  const v = h.view;
  const base = `[${h.base.join(",")}]`;
  switch (v.kind) {
    case "contiguous":
      return "contiguous";
    case "transpose":
      return `transpose(${v.dim0},${v.dim1}) of ${base}`;
    case "permute":
      return `permute(${v.perm.join(",")}) of ${base}`;
    case "slice":
      return `slice(dim ${v.dim}, start ${v.start}, step ${v.step}) of ${base}`;
    case "expand":
      return `expand of ${base}`;
  }
}

/** A readable, replay-friendly summary of a sample: shapes, views, values (all of them up to 64) and attrs. */
export function describeSample(s: Sample): string {
  const lines = s.inputs.map((h, i) => {
    const vals =
      h.values.length <= 64
        ? fmtList(h.values)
        : `${fmtList(h.values.slice(0, 64)).slice(0, -1)}, … ${h.values.length} values]`;
    return `  input ${i}: ${h.dtype}[${h.shape.join(",")}] ${describeView(h)} storage=${vals}`;
  });
  lines.push(
    `  attrs: ${JSON.stringify(s.attrs, (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v))}`,
  );
  return lines.join("\n");
}
