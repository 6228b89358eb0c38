/**
 * Gradient cases of activations and normalisations. softmax, logSoftmax, layerNorm and gelu are
 * smooth, so any values do; dropout replays its mask from a seeded generator in every evaluation.
 */
import { dropout, embedding, Generator, gelu, layerNorm, logSoftmax, numel, softmax } from "@tessera/core";
import * as fc from "fast-check";
import type { GradCase, GradInput } from "../types.js";

const floatIn = (shape: number[], lim = 2): fc.Arbitrary<GradInput> =>
  fc
    .array(fc.double({ min: -lim, max: lim, noNaN: true }), {
      minLength: numel(shape),
      maxLength: numel(shape),
    })
    .map((values) => ({ shape, values }));

const shapeArb = (minRank: number, maxRank: number, maxDim = 3) =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/** x of rank 1–3 and a dim of it (negative half of the time). */
const withDim = shapeArb(1, 3, 4).chain((shape) =>
  fc
    .tuple(floatIn(shape, 3), fc.integer({ min: -shape.length, max: shape.length - 1 }))
    .map(([x, dim]) => ({ inputs: [x], attrs: { dim } })),
);

/** x [..., last] with normalizedShape its trailing 1 or 2 dims, weight and bias of that shape. */
const layerNormSample = (affine: boolean) =>
  fc
    .tuple(shapeArb(1, 2), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 2 }))
    .chain(([lead, last, k]) => {
      const shape = [...lead, last];
      const ns = shape.slice(shape.length - Math.min(k, shape.length));
      const inputs = affine ? [floatIn(shape), floatIn(ns), floatIn(ns)] : [floatIn(shape)];
      return fc.tuple(...inputs).map((xs) => ({ inputs: xs, attrs: { ns, eps: 1e-3 } }));
    });

export const ACTIVATION_GRAD_CASES: GradCase[] = [
  {
    name: "grad.softmax",
    ops: ["softmax"],
    fused: "softmax",
    arbitrary: withDim,
    run: ([x], { dim }) => softmax(x!, dim),
  },
  {
    name: "grad.logSoftmax",
    ops: ["logSoftmax"],
    fused: "logSoftmax",
    arbitrary: withDim,
    run: ([x], { dim }) => logSoftmax(x!, dim),
  },
  {
    name: "grad.layerNorm",
    ops: ["layerNorm"],
    fused: "layerNorm",
    arbitrary: layerNormSample(true),
    run: ([x, w, b], { ns, eps }) => layerNorm(x!, ns, w, b, eps),
  },
  {
    name: "grad.layerNorm.noAffine",
    ops: ["layerNorm"],
    fused: "layerNorm",
    arbitrary: layerNormSample(false),
    run: ([x], { ns, eps }) => layerNorm(x!, ns, null, null, eps),
  },
  {
    name: "grad.gelu",
    ops: ["gelu"],
    fused: "gelu",
    arbitrary: shapeArb(1, 3).chain((s) => floatIn(s, 3).map((x) => ({ inputs: [x], attrs: {} }))),
    run: ([x]) => gelu(x!),
  },
  {
    name: "grad.gelu.tanh",
    ops: ["gelu"],
    fused: "gelu",
    arbitrary: shapeArb(1, 3).chain((s) => floatIn(s, 3).map((x) => ({ inputs: [x], attrs: {} }))),
    run: ([x]) => gelu(x!, { approximate: "tanh" }),
  },
  {
    // A fresh generator with the same seed per evaluation: every finite-difference step sees one mask.
    name: "grad.dropout",
    ops: ["dropout"],
    arbitrary: fc
      .record({
        shape: shapeArb(1, 3, 4),
        p: fc.double({ min: 0.1, max: 0.9, noNaN: true }),
        seed: fc.integer({ min: 0, max: 1 << 20 }),
      })
      .chain(({ shape, p, seed }) => floatIn(shape).map((x) => ({ inputs: [x], attrs: { p, seed } }))),
    run: ([x], { p, seed }) => dropout(x!, p, true, { generator: new Generator(seed) }),
  },
  {
    name: "grad.dropout.eval",
    ops: ["dropout"],
    arbitrary: floatIn([2, 3]).map((x) => ({ inputs: [x], attrs: {} })),
    run: ([x]) => dropout(x!, 0.5, false),
  },
  {
    // Indices repeat on purpose (their rows' gradients add up). paddingIdx is left out: it zeroes a
    // row's gradient without changing the forward, so finite differences disagree by design (torch
    // does the same); packages/autograd/test/rules-activation.test.ts checks it.
    name: "grad.embedding",
    ops: ["embedding"],
    arbitrary: fc
      .record({
        num: fc.integer({ min: 2, max: 5 }),
        dim: fc.integer({ min: 1, max: 4 }),
        ishape: shapeArb(1, 2),
      })
      .chain(({ num, dim, ishape }) =>
        fc
          .tuple(
            floatIn([num, dim]),
            fc.array(fc.integer({ min: 0, max: num - 1 }), {
              minLength: numel(ishape),
              maxLength: numel(ishape),
            }),
          )
          .map(([w, idx]) => ({
            inputs: [w, { shape: ishape, values: idx, kind: "int32" as const }],
            attrs: {},
          })),
      ),
    run: ([w, idx]) => embedding(w!, idx!),
  },
];
