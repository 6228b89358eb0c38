/**
 * Matrix products. For out = a·b (1-D operands promoted to a row / column, batch dims broadcast):
 * da = g·bᵀ and db = aᵀ·g. Gradients come back at the broadcast batch shape and the engine sums the
 * batch dims an operand was broadcast along; a 2-D operand against a contiguous batch is instead
 * differentiated as one flat product, so no per-batch partial gradients are materialised.
 */
import { matmul, type Tensor } from "@tessera/core";
import { registerGradRule } from "../registry.js";

registerGradRule<[Tensor, Tensor]>("matmul", {
  save: ([a, b], _out, needs) => [needs[1] ? a : null, needs[0] ? b : null],
  backward: (grads, ctx) => {
    const [sa, sb] = ctx.saved;
    const [ia, ib] = ctx.inputs;
    const g = grads[0]!;
    const ra = ia!.shape.length;
    const rb = ib!.shape.length;
    if (ra === 1 && rb === 1) return [ctx.needs[0] ? g.mul(sb!) : null, ctx.needs[1] ? g.mul(sa!) : null];
    // Back to matrices: g as [..., M, N] with the dims matmul dropped for 1-D operands restored.
    const g2 = rb === 1 ? g.unsqueeze(-1) : ra === 1 ? g.unsqueeze(-2) : g;
    let da: Tensor | null = null;
    if (ctx.needs[0]) {
      const b2 = rb === 1 ? sb!.unsqueeze(0) : sb!.mT; // [..., N, K]
      da = matmul(g2, b2);
      if (ra === 1) da = da.squeeze(-2);
    }
    let db: Tensor | null = null;
    if (ctx.needs[1]) {
      const a2 = ra === 1 ? sa!.unsqueeze(0) : sa!; // [..., M, K]
      if (rb === 2 && a2.rank > 2) {
        // [B·M, K]ᵀ · [B·M, N]: sums over the batch inside one product.
        const k = a2.shape[a2.rank - 1]!;
        db = matmul(a2.reshape([-1, k]).mT, g2.reshape([-1, g2.shape[g2.rank - 1]!]));
      } else db = matmul(a2.mT, g2);
      if (rb === 1) db = db.squeeze(-1);
    }
    return [da, db];
  },
});

/** y = x·Wᵀ + b: dx = g·W, dW = gᵀ·x over every leading dim at once, db = g summed by the engine. */
registerGradRule<[Tensor, Tensor, (Tensor | null)?]>("linear", {
  inputs: ([x, w, b]) => [x, w, b ?? null],
  save: ([x, w], _out, needs) => [needs[1] ? x : null, needs[0] ? w : null],
  backward: (grads, ctx) => {
    const [x, w] = ctx.saved;
    const g = grads[0]!;
    const [outF, inF] = ctx.inputs[1]!.shape as [number, number];
    return [
      ctx.needs[0] ? matmul(g, w!) : null,
      ctx.needs[1] ? matmul(g.reshape([-1, outF]).mT, x!.reshape([-1, inF])) : null,
      ctx.needs[2] ? g : null,
    ];
  },
});
