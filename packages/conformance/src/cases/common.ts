/** Shared pieces of the case files: dtype lists and sample builders. */
import type { DType } from "@tessera/core";
import * as fc from "fast-check";
import { broadcastShapesArb, type Domain, type ShapeOptions, shapeArb, tensorArb } from "../arbitraries.js";
import type { HostTensor, Sample } from "../types.js";

export const FLOATS: readonly DType[] = ["float32", "float16", "bfloat16"];

/** One input of a random shape. */
export function oneTensor<A>(
  dtype: DType,
  domain: Domain,
  shape: ShapeOptions = {},
  attrs: (shape: number[]) => fc.Arbitrary<A> = () => fc.constant(undefined as A),
): fc.Arbitrary<Sample<A>> {
  return shapeArb(shape).chain((s) =>
    fc.tuple(tensorArb(dtype, s, domain), attrs(s)).map(([x, a]) => ({ inputs: [x], attrs: a })),
  );
}

/** `n` inputs whose shapes broadcast together. */
export function broadcastTensors(
  dtypes: readonly DType[],
  domains: readonly Domain[],
  shape: ShapeOptions = {},
): fc.Arbitrary<Sample<undefined>> {
  return broadcastShapesArb(dtypes.length, shape).chain(({ inputs }) =>
    fc
      .tuple(...inputs.map((s, i) => tensorArb(dtypes[i]!, s, domains[i]!)))
      .map((xs: HostTensor[]) => ({ inputs: xs, attrs: undefined })),
  );
}
