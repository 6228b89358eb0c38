/**
 * Elementwise ops: one row per op. Binary gradients come back at the broadcast shape; the engine
 * sums them down to each operand's shape.
 */
import type { Tensor } from "@tessera/core";
import { registerGradRule } from "../registry.js";

type Bin = [Tensor | number | boolean, Tensor | number | boolean];

registerGradRule<Bin>("add", { backward: (g) => [g[0]!, g[0]!] });
registerGradRule<Bin>("sub", { backward: (g, ctx) => [g[0]!, ctx.needs[1] ? g[0]!.neg() : null] });
registerGradRule<Bin>("mul", {
  inputs: (args) => args.map((a) => (typeof a === "object" ? a : null)),
  save: ([a, b], _out, needs) => [
    needs[1] && typeof a === "object" ? a : null,
    needs[0] && typeof b === "object" ? b : null,
  ],
  backward: (g, ctx) => {
    const [a, b] = ctx.args;
    const [sa, sb] = ctx.saved;
    return [
      ctx.needs[0] ? g[0]!.mul(sb ?? (b as number)) : null,
      ctx.needs[1] ? g[0]!.mul(sa ?? (a as number)) : null,
    ];
  },
});
registerGradRule<[Tensor]>("neg", { backward: (g) => [g[0]!.neg()] });
registerGradRule<[Tensor]>("exp", {
  save: (_args, out) => [out as Tensor],
  backward: (g, ctx) => [g[0]!.mul(ctx.saved[0]!)],
});
