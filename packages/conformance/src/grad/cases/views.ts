/**
 * Gradient cases of views and copies: reshapes, permutes, broadcasts, slices, strided and
 * overlapping windows. All are linear, so any values do; the layouts are what is under test.
 */
import { cat, numel } from "@tessera/core";
import * as fc from "fast-check";
import type { GradCase, GradInput } from "../types.js";

const floatIn = (shape: number[]): fc.Arbitrary<GradInput> =>
  fc
    .array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((values) => ({ shape, values }));

const shapeArb = (minRank: number, maxRank: number, maxDim = 3) =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/** A dim of a rank-`rank` tensor, negative half of the time. */
const dimArb = (rank: number) => fc.integer({ min: -rank, max: rank - 1 });

/** One input of a random shape, with attrs drawn from that shape. */
function oneInput<A>(shapes: fc.Arbitrary<number[]>, attrs: (shape: number[]) => fc.Arbitrary<A>) {
  return shapes.chain((shape) =>
    attrs(shape).chain((a) => floatIn(shape).map((x) => ({ inputs: [x], attrs: a }))),
  );
}

export const VIEW_GRAD_CASES: GradCase[] = [
  {
    name: "grad.reshape",
    ops: ["reshape"],
    arbitrary: oneInput(fc.constantFrom([2, 6], [3, 4], [12], [2, 3, 2]), () =>
      fc.constantFrom([4, 3], [2, 2, 3], [-1], [6, -1], [1, 12, 1]),
    ),
    run: ([x], target) => x!.reshape(target),
  },
  {
    // A transposed input cannot be viewed flat: reshape copies.
    name: "grad.reshape.nonContiguous",
    ops: ["reshape", "permute"],
    arbitrary: oneInput(fc.constant([3, 4]), () => fc.constantFrom([12], [2, 6], [4, 3])),
    run: ([x], target) => x!.transpose(0, 1).reshape(target),
  },
  {
    name: "grad.view",
    ops: ["view"],
    arbitrary: oneInput(fc.constantFrom([2, 6], [3, 4], [2, 3, 2]), () =>
      fc.constantFrom([4, 3], [2, 2, 3], [-1], [6, -1]),
    ),
    run: ([x], target) => x!.view(target),
  },
  {
    name: "grad.permute",
    ops: ["permute"],
    arbitrary: oneInput(shapeArb(1, 4), (shape) =>
      fc
        .shuffledSubarray(
          shape.map((_, i) => i),
          { minLength: shape.length, maxLength: shape.length },
        )
        .chain((perm) => fc.boolean().map((neg) => (neg ? perm.map((d) => d - shape.length) : perm))),
    ),
    run: ([x], perm) => x!.permute(perm),
  },
  {
    name: "grad.transpose",
    ops: ["permute"],
    arbitrary: oneInput(shapeArb(2, 4), (shape) => fc.tuple(dimArb(shape.length), dimArb(shape.length))),
    run: ([x], [d0, d1]) => x!.transpose(d0, d1),
  },
  {
    name: "grad.expand",
    ops: ["expand"],
    arbitrary: oneInput(shapeArb(0, 3), (shape) =>
      fc
        .tuple(
          fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
          fc.tuple(...shape.map((s) => (s === 1 ? fc.constantFrom(1, 2, 3, -1) : fc.constantFrom(s, -1)))),
        )
        .map(([lead, rest]) => [...lead, ...rest]),
    ),
    run: ([x], target) => x!.expand(target),
  },
  {
    name: "grad.expand.size1",
    ops: ["expand"],
    arbitrary: oneInput(fc.constant([1, 3]), () => fc.constant([2, 4, 3])),
    run: ([x], target) => x!.expand(target),
  },
  {
    // The ViT class token: one [1,1,D] parameter expanded over the batch and prepended to the patches.
    name: "grad.expand.clsToken",
    ops: ["expand", "cat"],
    arbitrary: fc
      .record({
        b: fc.integer({ min: 1, max: 3 }),
        n: fc.integer({ min: 1, max: 3 }),
        d: fc.integer({ min: 1, max: 4 }),
      })
      .chain(({ b, n, d }) =>
        fc.tuple(floatIn([1, 1, d]), floatIn([b, n, d])).map((inputs) => ({ inputs, attrs: { b } })),
      ),
    run: ([cls, patches], { b }) => cat([cls!.expand([b, 1, -1]), patches!], 1),
  },
  {
    name: "grad.slice",
    ops: ["slice"],
    arbitrary: oneInput(shapeArb(1, 3, 6), (shape) =>
      fc.record({
        dim: dimArb(shape.length),
        start: fc.integer({ min: -7, max: 7 }),
        end: fc.option(fc.integer({ min: -7, max: 7 }), { nil: undefined }),
        step: fc.integer({ min: 1, max: 3 }),
      }),
    ),
    run: ([x], { dim, start, end, step }) => x!.slice(dim, start, end, step),
  },
  {
    name: "grad.slice.stepOfTransposed",
    ops: ["slice", "permute"],
    arbitrary: oneInput(fc.constant([5, 4]), () =>
      fc.record({ start: fc.integer({ min: -5, max: 4 }), step: fc.integer({ min: 2, max: 3 }) }),
    ),
    run: ([x], { start, step }) => x!.transpose(0, 1).slice(1, start, undefined, step),
  },
  {
    name: "grad.narrow",
    ops: ["slice"],
    arbitrary: oneInput(shapeArb(1, 3, 5), (shape) =>
      dimArb(shape.length).chain((dim) => {
        const n = shape[dim < 0 ? dim + shape.length : dim]!;
        return fc
          .integer({ min: -n, max: n - 1 })
          .chain((start) =>
            fc
              .integer({ min: 0, max: n - (start < 0 ? start + n : start) })
              .map((length) => ({ dim, start, length })),
          );
      }),
    ),
    run: ([x], { dim, start, length }) => x!.narrow(dim, start, length),
  },
  {
    name: "grad.select",
    ops: ["select"],
    arbitrary: oneInput(shapeArb(1, 3, 4), (shape) =>
      dimArb(shape.length).chain((dim) => {
        const n = shape[dim < 0 ? dim + shape.length : dim]!;
        return fc.integer({ min: -n, max: n - 1 }).map((index) => ({ dim, index }));
      }),
    ),
    run: ([x], { dim, index }) => x!.select(dim, index),
  },
  {
    name: "grad.squeeze",
    ops: ["squeeze"],
    arbitrary: oneInput(fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 1, maxLength: 4 }), (shape) =>
      fc.option(fc.subarray(shape.map((_, i) => i)), { nil: undefined }),
    ),
    run: ([x], dims) => x!.squeeze(dims),
  },
  {
    name: "grad.unsqueeze",
    ops: ["unsqueeze"],
    arbitrary: oneInput(shapeArb(0, 3), (shape) => dimArb(shape.length + 1)),
    run: ([x], dim) => x!.unsqueeze(dim),
  },
  {
    name: "grad.flatten",
    ops: ["reshape"],
    arbitrary: oneInput(shapeArb(1, 4), (shape) =>
      fc
        .tuple(fc.integer({ min: 0, max: shape.length - 1 }), fc.integer({ min: 0, max: shape.length - 1 }))
        .map(([a, b]) => [Math.min(a, b), Math.max(a, b) - shape.length] as const),
    ),
    run: ([x], [start, end]) => x!.flatten(start, end),
  },
  {
    name: "grad.flatten.ofPermuted",
    ops: ["reshape", "permute"],
    arbitrary: oneInput(fc.constant([2, 3, 2]), () => fc.constant(0)),
    run: ([x]) => x!.permute(2, 0, 1).flatten(1),
  },
  {
    // Overlapping windows (step < size): each element's gradient sums over the windows holding it.
    name: "grad.unfold",
    ops: ["unfold"],
    arbitrary: oneInput(shapeArb(1, 3, 6), (shape) =>
      dimArb(shape.length).chain((dim) => {
        const n = shape[dim < 0 ? dim + shape.length : dim]!;
        return fc.record({
          dim: fc.constant(dim),
          size: fc.integer({ min: 1, max: n }),
          step: fc.integer({ min: 1, max: 3 }),
        });
      }),
    ),
    run: ([x], { dim, size, step }) => x!.unfold(dim, size, step),
  },
  {
    name: "grad.unfold.overlapping",
    ops: ["unfold"],
    arbitrary: oneInput(fc.constant([2, 7]), () => fc.constant({ size: 3, step: 1 })),
    run: ([x], { size, step }) => x!.unfold(1, size, step),
  },
  {
    name: "grad.contiguous",
    ops: ["contiguous", "permute"],
    arbitrary: oneInput(fc.constantFrom([3, 4], [2, 3, 2]), () => fc.constant(0)),
    run: ([x]) => x!.transpose(0, -1).contiguous(),
  },
  {
    name: "grad.contiguous.ofStepSlice",
    ops: ["contiguous", "slice", "view"],
    arbitrary: oneInput(fc.constant([6, 3]), () => fc.constant(0)),
    run: ([x]) => x!.slice(0, 1, undefined, 2).contiguous().view([-1]),
  },
  {
    name: "grad.clone",
    ops: ["clone"],
    arbitrary: oneInput(shapeArb(0, 3), () => fc.constant(0)),
    run: ([x]) => x!.clone(),
  },
  {
    name: "grad.cast",
    ops: ["cast"],
    creates: ["float64"],
    arbitrary: oneInput(shapeArb(1, 3), () => fc.constant(0)),
    // In the case's dtype (float32 on the tested backend) this is the float32 → float64 copy.
    run: ([x]) => x!.cast("float64"),
  },
  {
    name: "grad.asStrided",
    ops: ["asStrided"],
    arbitrary: oneInput(fc.constant([10]), () =>
      fc.constantFrom(
        { shape: [3, 3], strides: [2, 1], offset: 1 }, // overlapping rows
        { shape: [2, 2], strides: [1, 4], offset: 0 }, // a transposed read
        { shape: [4], strides: [3], offset: 0 }, // strided, with gaps
        { shape: [2, 3], strides: [0, 2], offset: 3 }, // a broadcast row
      ),
    ),
    run: ([x], { shape, strides, offset }) => x!.asStrided(shape, strides, offset),
  },
];
