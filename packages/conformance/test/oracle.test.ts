/**
 * The float64 oracles themselves: every primitive case has one, every unary and binary op is covered, and
 * the semantics that are easy to get wrong come out as PyTorch defines them on hand-written samples.
 */
import { BINARY_OPS, PRIMITIVE_KERNELS, UNARY_OPS } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { CATALOGUE, type HostTensor, hostTensor, readHost } from "../src/index.js";

const byName = (name: string) => {
  const c = CATALOGUE.find((x) => x.name === name);
  if (!c?.oracle) throw new Error(`no oracle for ${name}`);
  return c;
};
const oracle = (name: string, inputs: HostTensor[], attrs: unknown = undefined) =>
  byName(name).oracle!(inputs, attrs);
const f32 = (shape: number[], values: number[]) => hostTensor("float32", shape, values);
const vals = (name: string, inputs: HostTensor[], attrs?: unknown, output = 0) =>
  Array.from(oracle(name, inputs, attrs)[output]!.values);

describe("float64 oracles", () => {
  it("every case of a primitive kernel has one; no fused case claims one", () => {
    const primitive = new Set<string>(PRIMITIVE_KERNELS);
    const missing = CATALOGUE.filter((c) => primitive.has(c.kernel) && !c.oracle).map((c) => c.name);
    expect(missing).toEqual([]);
    expect(CATALOGUE.filter((c) => primitive.has(c.kernel)).length).toBeGreaterThan(150);
  });

  it("every UNARY_OPS and BINARY_OPS op has a case with an oracle", () => {
    const covered = (kernel: string) =>
      new Set(CATALOGUE.filter((c) => c.kernel === kernel && c.oracle).map((c) => c.name.split(/[.[]/)[1]));
    expect(UNARY_OPS.filter((op) => !covered("unary").has(op))).toEqual([]);
    expect(BINARY_OPS.filter((op) => !covered("binary").has(op))).toEqual([]);
  });

  it("reads views: transpose, permute, strided slice and expand", () => {
    const base = [0, 1, 2, 3, 4, 5];
    const h = (shape: number[], b: number[], view: HostTensor["view"]): HostTensor => ({
      dtype: "float32",
      shape,
      base: b,
      values: base.slice(
        0,
        b.reduce((x, y) => x * y, 1),
      ),
      view,
    });
    expect(readHost(h([3, 2], [2, 3], { kind: "transpose", dim0: 0, dim1: 1 })).values).toEqual([
      0, 3, 1, 4, 2, 5,
    ]);
    // base [1,2,3] permuted by [2,0,1] is the view [3,1,2].
    expect(readHost(h([3, 1, 2], [1, 2, 3], { kind: "permute", perm: [2, 0, 1] })).values).toEqual([
      0, 3, 1, 4, 2, 5,
    ]);
    expect(readHost(h([2], [6], { kind: "slice", dim: 0, start: 1, step: 3 })).values).toEqual([1, 4]);
    expect(readHost(h([2, 3], [1, 3], { kind: "expand" })).values).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it("unary: round half to even, signed zeros, NaN through relu and sign", () => {
    const x = [0.5, 1.5, 2.5, -0.5, -2.5, -0.3, 3.7, Number.NaN, Number.POSITIVE_INFINITY];
    expect(vals("unary.round[float32]", [f32([9], x)])).toEqual([
      0,
      2,
      2,
      -0,
      -2,
      -0,
      4,
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ]);
    expect(Object.is(vals("unary.round[float32]", [f32([1], [-0.5])])[0], -0)).toBe(true);
    expect(vals("unary.sign[float32]", [f32([4], [-0, 0, -3, Number.NaN])])).toEqual([-0, 0, -1, Number.NaN]);
    expect(Object.is(vals("unary.sign[float32]", [f32([1], [-0])])[0], -0)).toBe(true);
    expect(vals("unary.relu[float32]", [f32([3], [Number.NaN, -1, 2])])).toEqual([Number.NaN, 0, 2]);
    const not = oracle("unary.logicalNot[float32]", [f32([3], [0, Number.NaN, 2])])[0]!;
    expect([not.dtype, ...Array.from(not.values)]).toEqual(["bool", 1, 0, 0]);
    // float16 rounds once from the float64 result: exp(1) is 2.71875 in binary16.
    expect(vals("unary.exp[float16]", [hostTensor("float16", [1], [1])])).toEqual([2.71875]);
    expect(vals("unary.erf[float32]", [f32([3], [0.5, 2.5, -1])])).toEqual(
      [0.5204998778130465, 0.999593047982555, -0.8427007929497149].map(Math.fround),
    );
  });

  it("binary: NaN-propagating maximum, comparisons with NaN, int32 wraparound, C pow", () => {
    const a = f32([4], [Number.NaN, 1, -0, 0]);
    const b = f32([4], [1, Number.NaN, 0, -0]);
    expect(vals("binary.maximum[float32]", [a, b])).toEqual([Number.NaN, Number.NaN, 0, 0]);
    expect(Object.is(vals("binary.minimum[float32]", [a, b])[2], -0)).toBe(true);
    expect(vals("binary.eq[float32]", [a, b])).toEqual([0, 0, 1, 1]);
    expect(vals("binary.ne[float32]", [a, b])).toEqual([1, 1, 0, 0]);
    expect(vals("binary.lt[float32]", [a, b])).toEqual([0, 0, 0, 0]);
    const big = hostTensor("int32", [2], [2 ** 31 - 1, 65536]);
    expect(vals("binary.add[int32]", [big, hostTensor("int32", [2], [1, 0])])).toEqual([-(2 ** 31), 65536]);
    expect(vals("binary.mul[int32]", [big, hostTensor("int32", [1], [65536])])).toEqual([-65536, 0]);
    expect(
      vals("binary.pow[float32]", [f32([3], [1, Number.NaN, 0]), f32([3], [Number.NaN, 0, -1])]),
    ).toEqual([1, 1, Number.POSITIVE_INFINITY]);
    // Broadcasting [2,1] with [3].
    expect(vals("binary.sub[float32]", [f32([2, 1], [10, 20]), f32([3], [1, 2, 3])])).toEqual([
      9, 8, 7, 19, 18, 17,
    ]);
  });

  it("reduce: empty sum/prod, keepdim and negative dims, first index and NaN for argmax", () => {
    const empty = f32([2, 0], []);
    expect(oracle("reduce.sum[float32]", [empty], { dims: [-1], keepdim: true })[0]).toMatchObject({
      shape: [2, 1],
      values: [0, 0],
    });
    expect(vals("reduce.prod[float32]", [empty], { dims: undefined, keepdim: false })).toEqual([1]);
    const x = f32([2, 3], [1, 3, 3, Number.NaN, 2, Number.NaN]);
    expect(vals("reduce.argmax[float32]", [x], { dims: -1, keepdim: false })).toEqual([1, 0]);
    expect(vals("reduce.argmax[float32]", [x], { dims: undefined, keepdim: false })).toEqual([3]);
    expect(oracle("reduce.argmin[float32]", [x], { dims: 0, keepdim: true })[0]).toMatchObject({
      dtype: "int32",
      shape: [1, 3],
      values: [1, 1, 1],
    });
    expect(vals("reduce.amax[float32]", [x], { dims: [0, -1], keepdim: false })).toEqual([Number.NaN]);
    const [values, indices] = oracle("reduce.max.dim[float32]", [f32([1, 3], [2, 5, 5])], {
      dims: 1,
      keepdim: false,
    });
    expect([...Array.from(values!.values), ...Array.from(indices!.values)]).toEqual([5, 1]);
    expect(
      vals("reduce.prod[int32]", [hostTensor("int32", [2], [65536, 65536])], {
        dims: undefined,
        keepdim: false,
      }),
    ).toEqual([0]);
  });

  it("matmul: vectors, batch broadcast; gather/indexSelect; scatterAdd accumulates duplicates", () => {
    const a = f32([2, 2], [1, 2, 3, 4]);
    expect(vals("matmul[float32]", [f32([2], [1, 1]), a])).toEqual([4, 6]);
    expect(vals("matmul[float32]", [a, f32([2], [1, 1])])).toEqual([3, 7]);
    const batched = oracle("matmul[float32]", [f32([2, 1, 2], [1, 0, 0, 1]), a])[0]!;
    expect(batched).toMatchObject({ shape: [2, 1, 2], values: [1, 2, 3, 4] });
    expect(oracle("matmul[float32]", [f32([2, 0], []), f32([0, 3], [])])[0]).toMatchObject({
      shape: [2, 3],
      values: [0, 0, 0, 0, 0, 0],
    });
    const idx = hostTensor("int32", [2, 1], [1, 0]);
    expect(vals("gather[float32]", [a, idx], { dim: -1 })).toEqual([2, 3]);
    expect(vals("gather.indexSelect[float32]", [a, hostTensor("int32", [3], [1, 1, 0])], { dim: 0 })).toEqual(
      [3, 4, 3, 4, 1, 2],
    );
    const dup = hostTensor("int32", [3], [0, 0, 1]);
    expect(
      vals("scatterAdd[float32]", [f32([2], [10, 20]), dup, f32([4], [1, 2, 4, 8])], { dim: 0 }),
    ).toEqual([13, 24]);
  });

  it("copy, cast, fill and random", () => {
    const x = f32([2, 3], [0, 1, 2, 3, 4, 5]);
    expect(vals("copy[float32]", [x], { op: "transpose", a: -1, b: 0 })).toEqual([0, 3, 1, 4, 2, 5]);
    expect(vals("copy[float32]", [x], { op: "slice", dim: -1, start: -2, step: 2 })).toEqual([1, 4]);
    expect(oracle("copy[float32]", [x], { op: "unsqueezeExpand", dim: 1, size: 2 })[0]).toMatchObject({
      shape: [2, 2, 3],
      values: [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5],
    });
    expect(vals("cast.float32->int32", [f32([4], [-2.7, 2.7, -0.5, 1e9])])).toEqual([-2, 2, 0, 1e9]);
    expect(vals("cast.float32->bool", [f32([3], [Number.NaN, -0, 0.1])])).toEqual([1, 0, 1]);
    expect(vals("cast.float32->float16", [f32([2], [1e5, 1 + 2 ** -11])])).toEqual([
      Number.POSITIVE_INFINITY,
      1,
    ]);
    expect(vals("fill[bfloat16]", [], { shape: [2], value: 1 + 2 ** -8 })).toEqual([1, 1]);
    const r = oracle("random[int32]", [], {
      shape: [5],
      seed: 7,
      skip: 0,
      dist: { kind: "randint", low: 0, high: 3 },
    })[0]!;
    expect(Array.from(r.values).every((v) => v >= 0 && v < 3 && Number.isInteger(v))).toBe(true);
  });
});
