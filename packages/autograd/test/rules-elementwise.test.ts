import {
  abs,
  ceil,
  clamp,
  floor,
  maximum,
  memory,
  minimum,
  pow,
  relu,
  round,
  sign,
  sub,
  type Tensor,
  tensor,
  tidy,
} from "@tessera/core";
import { describe, expect, it } from "vitest";
import { ELEMENTWISE_GRAD_CASES } from "../../conformance/src/grad/cases/elementwise.js";
import { getGradRule, gradStatus } from "../src/index.js";
import { expectCasePasses, expectRulesWithGradCases, grads, useJsBackend, values } from "./helpers.js";

useJsBackend();

describe("elementwise gradients match finite differences", () => {
  for (const c of ELEMENTWISE_GRAD_CASES) it(`${c.name} passes the grad runner`, () => expectCasePasses(c));
});

describe("elementwise gradient rules", () => {
  it("every elementwise op has a gradient status and a grad case", () => {
    const differentiable = [
      ..."neg abs exp log log1p expm1 sqrt rsqrt reciprocal sin cos tanh sigmoid relu erf".split(" "),
      ..."floor ceil round sign add sub mul div pow maximum minimum where maskedFill silu clamp".split(" "),
    ];
    const nonDifferentiable = "isnan logicalNot eq ne lt le gt ge logicalAnd logicalOr".split(" ");
    expectRulesWithGradCases(differentiable, ELEMENTWISE_GRAD_CASES);
    for (const name of nonDifferentiable) expect(gradStatus(name), name).toBe("non-differentiable");
  });

  it("maximum and minimum split the gradient in half on ties (torch >= 1.10)", () => {
    tidy(() => {
      const a = tensor([1, 2, 3]);
      const b = tensor([1, 0, 5]);
      const [ga, gb] = grads((x: Tensor, y: Tensor) => maximum(x, y).sum(), [a, b]);
      expect(values(ga)).toEqual([0.5, 1, 0]);
      expect(values(gb)).toEqual([0.5, 0, 1]);
      const [ma, mb] = grads((x: Tensor, y: Tensor) => minimum(x, y).sum(), [a, b]);
      expect(values(ma)).toEqual([0.5, 0, 1]);
      expect(values(mb)).toEqual([0.5, 1, 0]);
    });
  });

  it("clamp passes the gradient where min <= x <= max, bounds included", () => {
    tidy(() => {
      const [gx] = grads((x: Tensor) => clamp(x, 0, 1).sum(), [tensor([-1, 0, 0.5, 1, 2])]);
      expect(values(gx)).toEqual([0, 1, 1, 1, 0]);
      const [gmin] = grads((x: Tensor) => clamp(x, 0).sum(), [tensor([-1, 0, 2])]);
      expect(values(gmin)).toEqual([0, 1, 1]);
    });
  });

  it("clamp with tensor bounds routes the gradient to the selected bound; max wins when min > max", () => {
    tidy(() => {
      const x = tensor([-1, 0.5, 3, 0.5]);
      const lo = tensor([0, 0, 0, 2]);
      const hi = tensor([1, 1, 1, 1]);
      const [gx, glo, ghi] = grads((a: Tensor, l: Tensor, h: Tensor) => clamp(a, l, h).sum(), [x, lo, hi]);
      expect(values(gx)).toEqual([0, 1, 0, 0]);
      expect(values(glo)).toEqual([1, 0, 0, 0]);
      expect(values(ghi)).toEqual([0, 0, 1, 1]);
    });
  });

  it("relu, abs and sign have zero gradient at 0; floor, ceil and round have zero gradients everywhere", () => {
    tidy(() => {
      const x = tensor([-1.5, 0, 2.5]);
      expect(values(grads((t: Tensor) => relu(t).sum(), [x])[0])).toEqual([0, 0, 1]);
      expect(values(grads((t: Tensor) => abs(t).sum(), [x])[0])).toEqual([-1, 0, 1]);
      for (const f of [sign, floor, ceil, round]) {
        const [g] = grads((t: Tensor) => f(t).sum(), [x]);
        expect(values(g)).toEqual([0, 0, 0]);
      }
    });
  });

  it("a number as the first operand of sub takes no gradient slot (d(2 - x)/dx = -1)", () => {
    tidy(() => {
      const [g] = grads((t: Tensor) => sub(2, t).sum(), [tensor([1, 2])]);
      expect(values(g)).toEqual([-1, -1]);
    });
  });

  it("pow's gradients follow torch at zero: exponent 0 and base 0", () => {
    tidy(() => {
      const [g0] = grads((t: Tensor) => pow(t, 0).sum(), [tensor([0, 2])]);
      expect(values(g0)).toEqual([0, 0]);
      const [ga, gb] = grads(
        (a: Tensor, b: Tensor) => pow(a, b).sum(),
        [tensor([0, 0, 2]), tensor([0, 2, 0])],
      );
      expect(values(ga)).toEqual([0, 0, 0]);
      expect(values(gb)).toEqual([0, 0, Math.fround(Math.log(2))]);
    });
  });

  it("pow saves only what the wanted gradients read", () => {
    tidy(() => {
      const rule = getGradRule("pow")!;
      const a = tensor([1, 2]);
      const b = tensor([3, 4]);
      const out = pow(a, b);
      const saved = (args: unknown[], needs: boolean[]) => rule.save!(args, out, needs).map((t) => t ?? null);
      expect(saved([a, 2], [true])).toEqual([a, null, null]);
      expect(saved([a, b], [true, false])).toEqual([a, b, null]);
      expect(saved([a, b], [false, true])).toEqual([a, b, out]);
      expect(saved([3, b], [false, true])).toEqual([null, null, out]);
      expect(saved([0, b], [false, true])).toEqual([null, b, out]);
    });
  });

  it("backward through elementwise ops leaves no tensors behind", () => {
    const before = memory().numTensors;
    tidy(() => {
      const x = tensor([0.5, -1, 2]);
      const y = tensor([1.5, 2, -0.5]);
      grads(
        (a: Tensor, b: Tensor) =>
          maximum(a, b)
            .mul(a.sigmoid())
            .div(b.abs().add(1))
            .pow(2)
            .add(clamp(a, -0.7, 1).silu())
            .sum(),
        [x, y],
      );
    });
    expect(memory().numTensors).toBe(before);
  });
});
