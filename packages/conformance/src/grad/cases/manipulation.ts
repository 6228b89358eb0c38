/**
 * Gradient cases of joining, splitting, indexing and padding. Every op here is linear in its float
 * inputs, so any values do; index inputs repeat on purpose (their gradients must add up).
 */
import {
  cat,
  chunk,
  flip,
  gather,
  indexSelect,
  numel,
  oneHot,
  pad,
  repeat,
  scatterAdd,
  split,
  stack,
  tile,
  tril,
  triu,
} from "@tessera/core";
import * as fc from "fast-check";
import type { GradCase, GradInput } from "../types.js";

const floatIn = (shape: number[]): fc.Arbitrary<GradInput> =>
  fc
    .array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((values) => ({ shape, values }));

const indexIn = (shape: number[], below: number): fc.Arbitrary<GradInput> =>
  fc
    .array(fc.integer({ min: 0, max: below - 1 }), { minLength: numel(shape), maxLength: numel(shape) })
    .map((values) => ({ shape, values, kind: "int32" as const }));

const shapeArb = (minRank: number, maxRank: number, maxDim = 3) =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/** A dim of a rank-`rank` tensor, negative half of the time. */
const dimArb = (rank: number) => fc.integer({ min: -rank, max: rank - 1 });
const norm = (d: number, rank: number) => (d < 0 ? d + rank : d);

const withDim = (shape: readonly number[], d: number, n: number) => shape.map((s, i) => (i === d ? n : s));

export const MANIPULATION_GRAD_CASES: GradCase[] = [
  {
    name: "grad.cat",
    ops: ["cat"],
    arbitrary: shapeArb(1, 3).chain((shape) =>
      fc
        .record({
          dim: dimArb(shape.length),
          sizes: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
        })
        .chain(({ dim, sizes }) =>
          fc
            .tuple(...sizes.map((n) => floatIn(withDim(shape, norm(dim, shape.length), n))))
            .map((inputs) => ({ inputs, attrs: { dim } })),
        ),
    ),
    run: (xs, { dim }) => cat(xs, dim),
  },
  {
    name: "grad.cat.skipsEmpty1d",
    ops: ["cat"],
    arbitrary: fc
      .tuple(floatIn([2, 3]), floatIn([0]), floatIn([1, 3]))
      .map((inputs) => ({ inputs, attrs: {} })),
    run: (xs) => cat(xs, 0),
  },
  {
    name: "grad.cat.sameTensorTwice",
    ops: ["cat"],
    arbitrary: floatIn([2, 3]).map((x) => ({ inputs: [x], attrs: {} })),
    run: ([x]) => cat([x!, x!], 1),
  },
  {
    name: "grad.stack",
    ops: ["stack"],
    arbitrary: shapeArb(0, 3).chain((shape) =>
      fc
        .record({ dim: dimArb(shape.length + 1), n: fc.integer({ min: 1, max: 3 }) })
        .chain(({ dim, n }) =>
          fc
            .array(floatIn(shape), { minLength: n, maxLength: n })
            .map((inputs) => ({ inputs, attrs: { dim } })),
        ),
    ),
    run: (xs, { dim }) => stack(xs, dim),
  },
  {
    name: "grad.split.sizes",
    ops: ["split"],
    arbitrary: shapeArb(1, 3).chain((shape) =>
      dimArb(shape.length).chain((dim) => {
        const n = shape[norm(dim, shape.length)]!;
        // Cut points anywhere in [0, n], so some pieces may be empty.
        return fc.array(fc.integer({ min: 0, max: n }), { minLength: 0, maxLength: 2 }).chain((cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), n];
          const sizes = points.slice(1).map((p, i) => p - points[i]!);
          return floatIn(shape).map((x) => ({ inputs: [x], attrs: { dim, sizes } }));
        });
      }),
    ),
    run: ([x], { dim, sizes }) => split(x!, sizes, dim),
  },
  {
    name: "grad.split.size",
    ops: ["split"],
    arbitrary: fc
      .record({ n: fc.integer({ min: 1, max: 7 }), size: fc.integer({ min: 1, max: 4 }) })
      .chain(({ n, size }) => floatIn([2, n]).map((x) => ({ inputs: [x], attrs: { size } }))),
    run: ([x], { size }) => split(x!, size, -1),
  },
  {
    // Pieces nobody uses get zero gradients (the engine hands the rule zeros for them).
    name: "grad.split.unusedPieces",
    ops: ["split", "mul"],
    arbitrary: fc
      .record({ n: fc.integer({ min: 3, max: 6 }), pick: fc.integer({ min: 0, max: 2 }) })
      .chain(({ n, pick }) => floatIn([n, 2]).map((x) => ({ inputs: [x], attrs: { pick } }))),
    run: ([x], { pick }) => split(x!, 1, 0)[pick]!.mul(3),
  },
  {
    name: "grad.chunk",
    ops: ["chunk"],
    arbitrary: shapeArb(1, 3, 5).chain((shape) =>
      fc
        .record({ dim: dimArb(shape.length), chunks: fc.integer({ min: 1, max: 4 }) })
        .chain((attrs) => floatIn(shape).map((x) => ({ inputs: [x], attrs }))),
    ),
    run: ([x], { dim, chunks }) => chunk(x!, chunks, dim),
  },
  {
    name: "grad.gather",
    ops: ["gather"],
    arbitrary: shapeArb(1, 3).chain((shape) =>
      dimArb(shape.length).chain((dim) => {
        const d = norm(dim, shape.length);
        // index: no larger than x outside dim, any length (repeats included) along it.
        const idxShape = fc.tuple(
          ...shape.map((s, i) => (i === d ? fc.integer({ min: 1, max: 4 }) : fc.integer({ min: 1, max: s }))),
        );
        return idxShape.chain((is) =>
          fc.tuple(floatIn(shape), indexIn(is, shape[d]!)).map((inputs) => ({ inputs, attrs: { dim } })),
        );
      }),
    ),
    run: ([x, index], { dim }) => gather(x!, dim, index!),
  },
  {
    name: "grad.indexSelect",
    ops: ["indexSelect"],
    arbitrary: shapeArb(1, 3).chain((shape) =>
      fc
        .record({ dim: dimArb(shape.length), k: fc.integer({ min: 1, max: 5 }) })
        .chain(({ dim, k }) =>
          fc
            .tuple(floatIn(shape), indexIn([k], shape[norm(dim, shape.length)]!))
            .map((inputs) => ({ inputs, attrs: { dim } })),
        ),
    ),
    run: ([x, index], { dim }) => indexSelect(x!, dim, index!),
  },
  {
    name: "grad.indexSelect.scalarInput",
    ops: ["indexSelect"],
    arbitrary: floatIn([]).map((x) => ({
      inputs: [x, { shape: [1], values: [0], kind: "int32" as const }],
      attrs: {},
    })),
    run: ([x, index]) => indexSelect(x!, 0, index!),
  },
  {
    name: "grad.scatterAdd",
    ops: ["scatterAdd"],
    arbitrary: shapeArb(1, 3).chain((shape) =>
      dimArb(shape.length).chain((dim) => {
        const d = norm(dim, shape.length);
        // index within src everywhere and within x outside dim; src may be larger than index.
        const sizes = fc.tuple(
          ...shape.map((s, i) =>
            fc
              .integer({ min: 1, max: i === d ? 3 : s })
              .chain((k) => fc.tuple(fc.constant(k), fc.integer({ min: k, max: k + 1 }))),
          ),
        );
        return sizes.chain((pairs) => {
          const idxShape = pairs.map(([k]) => k);
          const srcShape = pairs.map(([, m]) => m);
          return fc
            .tuple(floatIn(shape), indexIn(idxShape, shape[d]!), floatIn(srcShape))
            .map((inputs) => ({ inputs, attrs: { dim } }));
        });
      }),
    ),
    run: ([x, index, src], { dim }) => scatterAdd(x!, dim, index!, src!),
  },
  {
    name: "grad.pad",
    ops: ["pad"],
    arbitrary: shapeArb(1, 3, 4).chain((shape) =>
      fc.integer({ min: 1, max: shape.length }).chain((padded) =>
        fc
          .record({
            // Negative pads crop; dims of size ≥ 2 may lose one element on each side.
            pads: fc.tuple(
              ...Array.from({ length: padded }, (_, i) => {
                const n = shape[shape.length - 1 - i]!;
                const lo = n >= 2 ? -1 : 0;
                return fc.tuple(fc.integer({ min: lo, max: 2 }), fc.integer({ min: lo, max: 2 }));
              }),
            ),
            value: fc.double({ min: -2, max: 2, noNaN: true }),
          })
          .chain(({ pads, value }) =>
            floatIn(shape).map((x) => ({ inputs: [x], attrs: { pads: pads.flat(), value } })),
          ),
      ),
    ),
    run: ([x], { pads, value }) => pad(x!, pads, value),
  },
  {
    name: "grad.flip",
    ops: ["flip"],
    arbitrary: shapeArb(1, 3, 4).chain((shape) =>
      fc
        .subarray(
          shape.map((_, i) => i),
          { minLength: 1 },
        )
        .chain((dims) => floatIn(shape).map((x) => ({ inputs: [x], attrs: { dims } }))),
    ),
    run: ([x], { dims }) => flip(x!, dims),
  },
  {
    name: "grad.repeat",
    ops: ["repeat"],
    arbitrary: shapeArb(0, 2).chain((shape) =>
      fc
        .array(fc.integer({ min: 1, max: 3 }), { minLength: shape.length, maxLength: shape.length + 1 })
        .chain((reps) => floatIn(shape).map((x) => ({ inputs: [x], attrs: { reps } }))),
    ),
    run: ([x], { reps }) => repeat(x!, reps),
  },
  {
    name: "grad.tile",
    ops: ["tile", "repeat"],
    arbitrary: shapeArb(1, 3).chain((shape) =>
      fc
        .array(fc.integer({ min: 1, max: 2 }), { minLength: 1, maxLength: shape.length })
        .chain((reps) => floatIn(shape).map((x) => ({ inputs: [x], attrs: { reps } }))),
    ),
    run: ([x], { reps }) => tile(x!, reps),
  },
  ...(["triu", "tril"] as const).map(
    (op): GradCase => ({
      name: `grad.${op}`,
      ops: [op],
      arbitrary: fc
        .record({ shape: shapeArb(2, 3, 4), diagonal: fc.integer({ min: -2, max: 2 }) })
        .chain(({ shape, diagonal }) => floatIn(shape).map((x) => ({ inputs: [x], attrs: { diagonal } }))),
      run: ([x], { diagonal }) => (op === "triu" ? triu(x!, diagonal) : tril(x!, diagonal)),
    }),
  ),
  {
    // oneHot is not differentiable; a mask built from it passes gradients to the other factor only.
    name: "grad.oneHot.mask",
    ops: ["oneHot", "cast", "mul"],
    arbitrary: fc
      .record({ n: fc.integer({ min: 1, max: 4 }), classes: fc.integer({ min: 1, max: 4 }) })
      .chain(({ n, classes }) =>
        fc
          .tuple(floatIn([n, classes]), indexIn([n], classes))
          .map((inputs) => ({ inputs, attrs: { classes } })),
      ),
    run: ([x, labels], { classes }) => x!.mul(oneHot(labels!, classes).cast(x!.dtype)),
  },
];
