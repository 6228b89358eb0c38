/**
 * Tools for reading a transformer's attention: the layers `returnAttention` picks (one rule for
 * every model), attention rollout (Abnar & Zuidema 2020), the cls→patch map on the patch grid, an
 * image-sized heatmap, and the position-embedding resampler every ViT here uses to change its
 * input size.
 *
 *   maps L × [B,H,N,N] → fuse heads [B,N,N] → drop lowest → ½(A + I) → rows sum to 1
 *                      → A_L · … · A_1 [B,N,N] → cls row [B,N−P] → grid [B,h,w] → heatmap [B,H,W] ∈ [0,1]
 */
import { amax, amin, eye, gt, interpolate, le, lt, maximum, type Tensor, tidy, where } from "@tessera/core";
import { type GridSize, resamplePositionEmbedding } from "@tessera/nn";

/**
 * The layers whose attention maps `returnAttention` asks for, as indices 0…depth−1 in the order
 * asked: the one rule every model here follows. `true` is every layer in order; `false` or
 * `undefined` is none; a list picks layers, negative indices counting from the end (−1 is the
 * last), and the model returns one map per entry, `attention[k]` for layer `which[k]`. An index
 * that is not an integer in −depth…depth−1, or a layer asked for twice (say 0 and −1 at depth 1),
 * is a RangeError naming the model: a repeat is almost always a slip, and refusing it keeps one
 * map per layer and one per entry.
 *
 * @example
 * attentionLayers("MiniViT", [-1, 0], 6); // [5, 0]
 * attentionLayers("MiniViT", true, 3); // [0, 1, 2]
 * attentionLayers("MiniViT", [6], 6); // RangeError: MiniViT: returnAttention asks for layer 6, but the layers are 0..5 (or -6..-1 from the end)
 */
export function attentionLayers(
  model: string,
  which: boolean | readonly number[] | undefined,
  depth: number,
): number[] {
  if (which === undefined || which === false) return [];
  if (which === true) return Array.from({ length: depth }, (_, i) => i);
  if (!Array.isArray(which))
    throw new RangeError(
      `${model}: returnAttention must be true, false or a list of layer indices, got ${JSON.stringify(which)}`,
    );
  const range =
    depth > 0 ? `the layers are 0..${depth - 1} (or -${depth}..-1 from the end)` : "it has no layers";
  const chosen: number[] = [];
  for (const l of which) {
    const i = Number.isInteger(l) && l < 0 ? l + depth : l;
    if (!Number.isInteger(i) || i < 0 || i >= depth)
      throw new RangeError(`${model}: returnAttention asks for layer ${l}, but ${range}`);
    const k = chosen.indexOf(i);
    if (k >= 0)
      throw new RangeError(
        `${model}: returnAttention asks for layer ${i} twice (as ${which[k]} and ${l}); ask for each layer once`,
      );
    chosen.push(i);
  }
  return chosen;
}

export type HeadFusion = "mean" | "max" | "min";

export interface RolloutOptions {
  /** Fraction (in [0, 1)) of each fused map's weights, the lowest, set to 0 before the residual is added (default 0). */
  discardRatio?: number;
  /** How the heads of a layer become one map (default 'mean'). Ignored for maps given as [B,N,N]. */
  headFusion?: HeadFusion;
  /** Model the skip connection as ½(A + I) (default true); false uses A alone. */
  addResidual?: boolean;
}

/** Bisection steps for the discard threshold: enough to reach adjacent float32 values in [0, 1]. */
const THRESHOLD_STEPS = 96;

/**
 * Attention rollout: fuses each layer's heads, optionally zeroes the lowest `discardRatio` of the
 * weights (per sample, over the whole N×N map), adds the identity for the residual path,
 * renormalises the rows and multiplies the layers (`A_L · … · A_1`). Row i of the result says how
 * much token i's output draws on each input token. Maps are post-softmax weights in layer order.
 *
 * Differences from the widely copied `vit-explain` code: rows are renormalised (it divides by
 * column sums through a broadcasting slip), and the cls→cls weight is not exempt from discarding.
 * A zero row that survives discarding with `addResidual: false` stays zero (never NaN).
 *
 * @example
 * let x = randn([2, 1 + 7 * 7, 64]); // cls + a 7×7 patch grid
 * const maps: Tensor[] = [];
 * for (const block of [new Block(64, 4), new Block(64, 4)]) {
 *   const r = block.forward(x, { returnAttention: true }); // attention [2,4,50,50]
 *   maps.push(r.attention!);
 *   x = r.output;
 * }
 * const rollout = attentionRollout(maps, { headFusion: "max", discardRatio: 0.9 }); // [2,50,50]
 * const grid = clsAttentionGrid(rollout, [7, 7]); // [2,7,7]
 */
export function attentionRollout(maps: readonly Tensor[], opts: RolloutOptions = {}): Tensor {
  const fn = "attentionRollout";
  const discard = opts.discardRatio ?? 0;
  const fusion = opts.headFusion ?? "mean";
  const residual = opts.addResidual ?? true;
  if (!(discard >= 0 && discard < 1))
    throw new RangeError(`${fn}: discardRatio must be in [0, 1), got ${discard}`);
  if (fusion !== "mean" && fusion !== "max" && fusion !== "min")
    throw new RangeError(`${fn}: headFusion must be 'mean', 'max' or 'min', got ${String(fusion)}`);
  if (maps.length === 0) throw new RangeError(`${fn}: needs at least one attention map`);
  const first = maps[0]!;
  const [b, n] = [first.shape[0]!, first.shape.at(-1)!];
  maps.forEach((m, i) => {
    if ((m.rank !== 3 && m.rank !== 4) || m.shape[0] !== b || m.shape.at(-1) !== n || m.shape.at(-2) !== n) {
      throw new RangeError(
        `${fn}: map ${i} must be [${b},H,${n},${n}] or [${b},${n},${n}] like map 0, got [${m.shape.join(",")}]`,
      );
    }
  });
  return tidy(() => {
    const identity = eye(n, n, { dtype: first.dtype, backend: first.backendName });
    let rollout: Tensor | null = null;
    for (const m of maps) {
      // [B,H,N,N] → [B,N,N]
      let a = m.rank === 3 ? m : fusion === "mean" ? m.mean(1) : fusion === "max" ? amax(m, 1) : amin(m, 1);
      if (discard > 0) a = dropLowest(a, discard);
      if (residual) a = a.add(identity).mul(0.5);
      a = a.div(maximum(a.sum(-1, true), 1e-30)); // rows sum to 1
      rollout = rollout === null ? a : a.matmul(rollout);
    }
    return rollout!;
  });
}

/**
 * Zeroes, per sample, the weights below the k-th smallest of the N·N values (k = ⌊ratio·N·N⌋):
 * exactly k of them when the values are distinct; weights tied with the k-th smallest are kept.
 * The threshold is found by bisection on tensors (core has no sort), so no data leaves the backend.
 */
function dropLowest(a: Tensor, ratio: number): Tensor {
  const [b, n] = [a.shape[0]!, a.shape[1]!];
  const k = Math.floor(ratio * n * n);
  if (k === 0) return a;
  const flat = a.reshape(b, n * n);
  // Invariant: count(x < lo) ≤ k < count(x < hi).
  let lo = amin(flat, 1, true);
  let hi = amax(flat, 1, true).add(1);
  for (let i = 0; i < THRESHOLD_STEPS; i++) {
    const [l, h] = [lo, hi];
    [lo, hi] = tidy(() => {
      const mid = l.add(h).mul(0.5);
      const fits = le(lt(flat, mid).sum(1, true), k);
      return [where(fits, mid, l), where(fits, h, mid)];
    });
    l.dispose();
    h.dispose();
  }
  return where(lt(a, lo.unsqueeze(-1)), 0, a);
}

export interface ClsGridOptions {
  /** Tokens before the patch grid (cls, registers); row 0 is read. Default 1. */
  numPrefixTokens?: number;
}

/**
 * The cls token's row of a rollout (or of one attention map [B,N,N]) over the patch tokens,
 * reshaped to the patch grid: [B,N,N] → [B,h,w]. The grid is `[h, w]` (or `n` for n×n).
 *
 * @example
 * const rollout = attentionRollout([softmax(randn([1, 4, 1 + 6 * 8, 1 + 6 * 8]), -1)]); // [1,49,49]
 * const grid = clsAttentionGrid(rollout, [6, 8]); // [1,6,8]
 */
export function clsAttentionGrid(rollout: Tensor, grid: GridSize, opts: ClsGridOptions = {}): Tensor {
  const [h, w] = typeof grid === "number" ? [grid, grid] : grid;
  const p = opts.numPrefixTokens ?? 1;
  if (p < 1 || !Number.isInteger(p))
    throw new RangeError(`clsAttentionGrid: numPrefixTokens must be an integer >= 1, got ${p}`);
  if (rollout.rank !== 3 || rollout.shape[1] !== p + h * w || rollout.shape[2] !== p + h * w) {
    throw new RangeError(
      `clsAttentionGrid: rollout must be [B,${p + h * w},${p + h * w}] for ${p} prefix tokens and a ${h}×${w} grid, got [${rollout.shape.join(",")}]`,
    );
  }
  // [B,N,N] → cls row [B,h·w] → [B,h,w]
  return tidy(() =>
    rollout
      .select(1, 0)
      .narrow(1, p, h * w)
      .reshape(rollout.shape[0]!, h, w),
  );
}

/**
 * Resamples a position embedding `[1, P + h·w, D]` (or `[P + h·w, D]`) from `oldGrid` to
 * `newGrid`, keeping the P prefix tokens: DESIGN §6's argument order over nn's
 * `resamplePositionEmbedding` (bilinear, align_corners False, no antialiasing). Pure and
 * differentiable. `numPrefixTokens` defaults to 1 here, as in timm's `resample_abs_pos_embed`
 * (nn's function defaults to 0); grids are never assumed square.
 *
 * @example
 * // A cls token + 7×7 grid (28×28 images, patch 4) → 8×8 (32×32 images)
 * const pe = resamplePosEmbed(randn([1, 50, 64]), [8, 8], [7, 7]); // [1, 65, 64]
 */
export function resamplePosEmbed(
  posEmbed: Tensor,
  newGrid: GridSize,
  oldGrid: GridSize,
  numPrefixTokens = 1,
  mode: "bilinear" | "nearest" = "bilinear",
): Tensor {
  return resamplePositionEmbedding(posEmbed, oldGrid, newGrid, { numPrefixTokens, mode });
}

/**
 * Upsamples a patch-grid map [h,w] (or [B,h,w]) bilinearly to the image size and min-max
 * normalises each map to [0, 1] (a constant map becomes all zeros): the tensor behind a heatmap
 * overlay.
 *
 * @example
 * const heat = attentionHeatmap(rand([7, 7]), 28); // [28, 28] in [0, 1]
 */
export function attentionHeatmap(map: Tensor, imageSize: GridSize): Tensor {
  const [H, W] = typeof imageSize === "number" ? [imageSize, imageSize] : imageSize;
  if ((map.rank !== 2 && map.rank !== 3) || map.size === 0) {
    throw new RangeError(`attentionHeatmap: map must be [h,w] or [B,h,w], got [${map.shape.join(",")}]`);
  }
  if (![H, W].every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(
      `attentionHeatmap: imageSize must be a positive integer or [H, W], got ${JSON.stringify(imageSize)}`,
    );
  }
  return tidy(() => {
    // [B,h,w] → [B,1,h,w] → [B,1,H,W] → [B,H,W]
    const batched = map.rank === 3 ? map : map.unsqueeze(0);
    const up = interpolate(batched.unsqueeze(1), { size: [H, W], mode: "bilinear" }).squeeze(1);
    const lo = amin(up, [1, 2], true);
    const range = amax(up, [1, 2], true).sub(lo);
    const norm = where(gt(range, 0), up.sub(lo).div(maximum(range, 1e-30)), 0);
    return map.rank === 3 ? norm : norm.squeeze(0);
  });
}
