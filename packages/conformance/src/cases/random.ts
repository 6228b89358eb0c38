/**
 * The `random` primitive: the same Generator seed gives the same numbers bit for bit on every backend
 * (core's Philox contract). Each run builds a fresh generator from the sample's seed and counter.
 */
import { type DType, Generator, philoxFill } from "@tessera/core";
import * as fc from "fast-check";
import { shapeArb } from "../arbitraries.js";
import { ops } from "../ops.js";
import { dense, numelOf } from "../oracle.js";
import type { ConformanceCase } from "../types.js";

type Dist =
  | { kind: "uniform"; low: number; high: number }
  | { kind: "normal"; mean: number; std: number }
  | { kind: "bernoulli"; p: number }
  | { kind: "randint"; low: number; high: number };

interface Attrs {
  shape: number[];
  seed: number;
  /** Draws made before this one, so streams that do not start at counter 0 are covered. */
  skip: number;
  dist: Dist;
}

const distArb: fc.Arbitrary<Dist> = fc.oneof(
  fc.record({
    kind: fc.constant("uniform" as const),
    low: fc.integer({ min: -5, max: 0 }),
    high: fc.integer({ min: 1, max: 5 }),
  }),
  fc.record({
    kind: fc.constant("normal" as const),
    mean: fc.integer({ min: -3, max: 3 }),
    std: fc.constantFrom(0, 0.5, 1, 2),
  }),
  fc.record({ kind: fc.constant("bernoulli" as const), p: fc.constantFrom(0, 0.25, 0.5, 1) }),
  fc.record({
    kind: fc.constant("randint" as const),
    low: fc.integer({ min: -10, max: 0 }),
    high: fc.integer({ min: 1, max: 1000 }),
  }),
);

function draw(dtype: DType, a: Attrs) {
  const generator = new Generator(a.seed);
  if (a.skip > 0) generator.next("uniform", a.skip);
  const d = a.dist;
  const opts = { dtype, generator };
  switch (d.kind) {
    case "uniform":
      return ops.uniform!(a.shape, d.low, d.high, opts);
    case "normal":
      return ops.normal!(a.shape, d.mean, d.std, opts);
    case "bernoulli":
      return ops.bernoulli!(d.p, { ...opts, shape: a.shape });
    case "randint":
      return ops.randint!(d.low, d.high, a.shape, opts);
  }
}

/**
 * core's reference Philox fill (`philoxFill`, float64) at the stream position the op must use — after
 * `skip` uniform draws of the sample's seed — rounded to the dtype: the backend's numbers must match bit for bit.
 */
function randomOracle(dtype: DType, a: Attrs) {
  const n = numelOf(a.shape);
  const values = new Array<number>(n).fill(0);
  if (n > 0) {
    const generator = new Generator(a.seed);
    if (a.skip > 0) generator.next("uniform", a.skip);
    philoxFill(values, a.dist, generator.next(a.dist.kind, n));
  }
  return dense(dtype, a.shape, values);
}

const DTYPES: readonly DType[] = ["float32", "float64", "float16", "bfloat16", "int32"];

export const cases: ConformanceCase[] = DTYPES.map(
  (dtype): ConformanceCase<Attrs> => ({
    name: `random[${dtype}]`,
    kernel: "random",
    dtype,
    ops: ["uniform", "normal", "bernoulli", "randint"],
    arbitrary: fc
      .record({
        shape: shapeArb({ maxNumel: 128 }),
        seed: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(0, 2 ** 53 - 1)),
        skip: fc.integer({ min: 0, max: 9 }),
        // int32 storage of a float distribution truncates: cover only randint and bernoulli there.
        dist:
          dtype === "int32" ? distArb.filter((d) => d.kind === "randint" || d.kind === "bernoulli") : distArb,
      })
      .map((attrs) => ({ inputs: [], attrs })),
    run: (_inputs, a) => draw(dtype, a),
    oracle: (_inputs, a) => [randomOracle(dtype, a)],
    tolerance: "exact",
  }),
);
