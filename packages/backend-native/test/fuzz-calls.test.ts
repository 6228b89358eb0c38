/**
 * Random direct calls into every kernel: view tables whose views are in bounds of real storages
 * but whose counts, dtypes, ranks and shapes are arbitrary, with arbitrary attributes. Each call
 * must return or throw an Error; a crash would take the test worker down (and under the
 * sanitizer build, `test:sanitize`, any out-of-bounds access aborts the run).
 */
import { ALL_FUSED_KERNELS, PRIMITIVE_KERNELS } from "@tessera/core";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Addon, DTYPE_CODES } from "../src/abi.js";
import { loadAddon } from "../src/loader.js";
import { nativeAvailable } from "./native-available.js";

const STORAGE_ELEMENTS = 4096;
const DTYPES = ["float32", "int32", "bool", "float16", "bfloat16"] as const;
const ATTRS = [0, 1, 2, 3, 4, -1, -2, 0.5, 7, 64, 1e9, -1e9, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 40];

interface ViewSpec {
  storage: number;
  dtypeLie: boolean;
  shape: number[];
  absent: boolean;
}

const viewArb: fc.Arbitrary<ViewSpec> = fc.record({
  storage: fc.nat({ max: DTYPES.length - 1 }),
  dtypeLie: fc.nat({ max: 9 }).map((k) => k === 0), // one view in ten names the wrong dtype
  shape: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 5 }),
  absent: fc.nat({ max: 9 }).map((k) => k === 0), // one in ten is an absent optional view
});

const callArb = fc.record({
  views: fc.array(viewArb, { minLength: 0, maxLength: 10 }),
  attrs: fc.array(fc.constantFrom(...ATTRS), { minLength: 0, maxLength: 12 }),
});

describe.runIf(nativeAvailable)("native kernels survive arbitrary direct calls", () => {
  const addon = loadAddon().addon as Addon;
  // Without the addon, the contract's kernel names stand in, so the skipped tests are named.
  const ops = nativeAvailable ? addon.info().ops : [...PRIMITIVE_KERNELS, ...ALL_FUSED_KERNELS];

  it.each(ops)("%s: every random call returns or throws an Error", (op) => {
    const code = ops.indexOf(op);
    const ids = DTYPES.map((d) => addon.allocate(DTYPE_CODES[d], STORAGE_ELEMENTS));
    let threw = 0;
    let ran = 0;
    try {
      fc.assert(
        fc.property(callArb, ({ views, attrs }) => {
          const table: number[] = [views.length];
          for (const v of views) {
            if (v.absent) {
              table.push(0, 0, 0, 0);
              continue;
            }
            // Contiguous strides; shapes whose extent exceeds the storage are clipped to stay in bounds.
            let n = v.shape.reduce((a, b) => a * b, 1);
            const shape = n > STORAGE_ELEMENTS ? v.shape.map(() => 1) : v.shape;
            n = shape.reduce((a, b) => a * b, 1);
            const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
            const dtype = DTYPE_CODES[DTYPES[v.storage]!];
            table.push(
              ids[v.storage]!,
              v.dtypeLie ? (dtype + 1) % 6 : dtype,
              shape.length,
              0,
              ...shape,
              ...strides,
            );
          }
          try {
            addon.execute(code, Float64Array.from(table), Float64Array.from(attrs));
            ran++;
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
            expect((e as Error).message).toMatch(/^tessera native: /);
            threw++;
          }
        }),
        { numRuns: 300, seed: 4242 },
      );
    } finally {
      for (const id of ids) addon.free(id);
    }
    // Most random calls are malformed; each op must have rejected some with an exception.
    expect(threw).toBeGreaterThan(0);
    expect(threw + ran).toBe(300);
  });
});
