/**
 * Positional encodings for token sequences [B, N, D]: fixed sinusoidal 1-D (Vaswani et al.) and 2-D
 * (MAE / timm's sin-cos grid), learnable, and learnable initialised with the sinusoidal table; plus
 * the pure functions that build the tables and resample a position embedding to another grid
 * (timm's `resample_abs_pos_embed`).
 */
import { add, cat, type DType, empty, interpolate, type Tensor, tensor, tidy } from "@tessera/core";
import * as init from "./init.js";
import { Module } from "./module.js";

export interface TableOptions {
  backend?: string;
  dtype?: DType;
}

/** A grid size: `n` for n×n, or `[height, width]`. */
export type GridSize = number | readonly [number, number];

function gridOf(fn: string, g: GridSize): [number, number] {
  const hw = typeof g === "number" ? [g, g] : g;
  if (hw.length !== 2 || !hw.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(
      `${fn}: a grid must be a positive integer or [height, width], got ${JSON.stringify(g)}`,
    );
  }
  return [hw[0]!, hw[1]!];
}

function checkCount(fn: string, name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min)
    throw new RangeError(`${fn}: ${name} must be an integer >= ${min}, got ${v}`);
}

/**
 * The 1-D sinusoidal table [numPositions, dim] of Vaswani et al.: PE[p, 2i] = sin(p / 10000^(2i/dim)),
 * PE[p, 2i+1] = cos(p / 10000^(2i/dim)), computed in float64 and rounded once (PyTorch recipes
 * compute the angles in float32, which differs by up to ~1e-4 at positions in the thousands).
 * An odd `dim` ends with a sine column.
 *
 * @example
 * const pe = sinusoidalEncoding1d(128, 64); // [128, 64]; row 0 is [0, 1, 0, 1, …]
 */
export function sinusoidalEncoding1d(numPositions: number, dim: number, opts: TableOptions = {}): Tensor {
  return tensor(sinusoidal1d("sinusoidalEncoding1d", numPositions, dim), {
    shape: [numPositions, dim],
    ...opts,
  });
}

function sinusoidal1d(fn: string, numPositions: number, dim: number): Float32Array {
  checkCount(fn, "numPositions", numPositions, 0);
  checkCount(fn, "dim", dim);
  const inv = new Float64Array(Math.ceil(dim / 2));
  for (let i = 0; i < inv.length; i++) inv[i] = 10000 ** (-(2 * i) / dim);
  const out = new Float32Array(numPositions * dim);
  for (let p = 0; p < numPositions; p++) {
    const row = p * dim;
    for (let c = 0; c < dim; c++) {
      const a = p * inv[c >> 1]!;
      out[row + c] = c & 1 ? Math.cos(a) : Math.sin(a);
    }
  }
  return out;
}

export interface Encoding2dOptions extends TableOptions {
  /** Prepend a zero row for a cls token (MAE's `cls_token=True`). */
  clsToken?: boolean;
}

/**
 * The 2-D sin-cos table [H·W, dim] of MAE's `get_2d_sincos_pos_embed` (timm's too), tokens in
 * row-major order (row y, column x at index y·W + x). The first dim/2 channels encode x and the
 * last dim/2 encode y, each as [sin(pos·ω_0 … pos·ω_{k−1}), cos(…)] with k = dim/4 and
 * ω_j = 1 / 10000^(j/k). `dim` must be a multiple of 4. `clsToken` prepends a zero row.
 *
 * @example
 * const pe = sinusoidalEncoding2d([14, 14], 768, { clsToken: true }); // [197, 768]
 */
export function sinusoidalEncoding2d(grid: GridSize, dim: number, opts: Encoding2dOptions = {}): Tensor {
  const fn = "sinusoidalEncoding2d";
  const [H, W] = gridOf(fn, grid);
  checkCount(fn, "dim", dim);
  if (dim % 4 !== 0) throw new RangeError(`${fn}: dim must be a multiple of 4, got ${dim}`);
  const k = dim / 4;
  const omega = new Float64Array(k);
  for (let j = 0; j < k; j++) omega[j] = 1 / 10000 ** (j / k);
  const first = opts.clsToken ? 1 : 0;
  const out = new Float32Array((first + H * W) * dim);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const row = (first + y * W + x) * dim;
      for (let j = 0; j < k; j++) {
        const ax = x * omega[j]!;
        const ay = y * omega[j]!;
        out[row + j] = Math.sin(ax);
        out[row + k + j] = Math.cos(ax);
        out[row + 2 * k + j] = Math.sin(ay);
        out[row + 3 * k + j] = Math.cos(ay);
      }
    }
  }
  const { clsToken: _, ...create } = opts;
  return tensor(out, { shape: [first + H * W, dim], ...create });
}

export interface ResampleOptions {
  /** Leading tokens that are not on the grid (cls, distillation, registers); kept as they are. Default 0. */
  numPrefixTokens?: number;
  /** Default 'bilinear' (align_corners=False, no antialiasing). */
  mode?: "bilinear" | "nearest";
}

/**
 * Resamples a position embedding `[1, P + h·w, D]` (or `[P + h·w, D]`) from grid `fromGrid` to
 * `toGrid`, keeping the first P = `numPrefixTokens` tokens: timm's `resample_abs_pos_embed`. The
 * grid tokens are row-major; interpolation is bilinear without antialiasing (timm defaults to
 * bicubic with antialias; the two agree when upsampling with `interpolation='bilinear'`). A pure,
 * differentiable function: use it when loading a checkpoint for another image size or per forward.
 * The same grid returns a view of `pe`.
 *
 * @example
 * // ViT trained at 224 px (14×14 patches + cls), used at 384 px (24×24)
 * const pe384 = resamplePositionEmbedding(pe224, 14, 24, { numPrefixTokens: 1 }); // [1, 577, D]
 */
export function resamplePositionEmbedding(
  pe: Tensor,
  fromGrid: GridSize,
  toGrid: GridSize,
  opts: ResampleOptions = {},
): Tensor {
  const fn = "resamplePositionEmbedding";
  const [h0, w0] = gridOf(fn, fromGrid);
  const [h1, w1] = gridOf(fn, toGrid);
  const P = opts.numPrefixTokens ?? 0;
  checkCount(fn, "numPrefixTokens", P, 0);
  const batched = pe.rank === 3;
  if (!(pe.rank === 2 || (batched && pe.shape[0] === 1)) || pe.shape.at(-2) !== P + h0 * w0) {
    throw new RangeError(
      `${fn}: pe must be [1, ${P + h0 * w0}, D] or [${P + h0 * w0}, D] (${P} prefix tokens + a ${h0}×${w0} grid), got [${pe.shape.join(", ")}]`,
    );
  }
  if (h0 === h1 && w0 === w1) return pe.reshape(pe.shape);
  const D = pe.shape.at(-1)!;
  return tidy(() => {
    const x = batched ? pe : pe.unsqueeze(0);
    // [1, h·w, D] → [1, D, h, w] → resample → [1, h'·w', D]
    const g = x
      .narrow(1, P, h0 * w0)
      .reshape([1, h0, w0, D])
      .permute(0, 3, 1, 2);
    const r = interpolate(g, { size: [h1, w1], mode: opts.mode ?? "bilinear" })
      .permute(0, 2, 3, 1)
      .reshape([1, h1 * w1, D]);
    const out = P > 0 ? cat([x.narrow(1, 0, P), r], 1) : r;
    return batched ? out : out.squeeze(0);
  });
}

function addEncoding(name: string, x: Tensor, table: Tensor, exact: boolean): Tensor {
  const n = table.shape.at(-2)!;
  const d = table.shape.at(-1)!;
  const len = x.shape.at(-2);
  if (x.rank < 2 || x.shape.at(-1) !== d || len === undefined || (exact ? len !== n : len > n)) {
    throw new RangeError(
      `${name}: input must be [B, N, ${d}] or [N, ${d}] with N ${exact ? "=" : "<="} ${n}, got [${x.shape.join(", ")}]`,
    );
  }
  return add(x, len === n ? table : table.narrow(-2, 0, len));
}

export interface SinusoidalPositionalEncodingOptions {
  /** Longest sequence the table covers (default 5000, as in the PyTorch tutorial). */
  maxLen?: number;
}

/**
 * Adds the fixed 1-D sinusoidal encoding (`sinusoidalEncoding1d`) to tokens [B, N, D] or [N, D],
 * N ≤ maxLen. The table is a non-persistent buffer `pe` [maxLen, D]: not in the state dict, moved
 * by `to()`.
 *
 * @example
 * const pos = new SinusoidalPositionalEncoding(64, { maxLen: 512 });
 * const y = pos.forward(randn([2, 100, 64])); // x + pe[:100]
 */
export class SinusoidalPositionalEncoding extends Module {
  readonly pe: Tensor;

  constructor(
    readonly dim: number,
    opts: SinusoidalPositionalEncodingOptions = {},
  ) {
    super();
    this.pe = this.registerBuffer("pe", sinusoidalEncoding1d(opts.maxLen ?? 5000, dim), {
      persistent: false,
    });
  }

  override forward(x: Tensor): Tensor {
    return addEncoding(this.typeName, x, this.pe, false);
  }

  override extraRepr(): string {
    return `dim=${this.dim}, max_len=${this.pe.shape[0]}`;
  }
}

/**
 * Adds the fixed 2-D sin-cos encoding (`sinusoidalEncoding2d`) to the tokens of a grid, [B, T, D]
 * with T = H·W (+1 with `clsToken`, whose row is zero). Non-persistent buffer `pe` [T, D].
 *
 * @example
 * const pos = new SinusoidalPositionalEncoding2d(192, [8, 8], { clsToken: true });
 * const y = pos.forward(tokens); // tokens [B, 65, 192]
 */
export class SinusoidalPositionalEncoding2d extends Module {
  readonly pe: Tensor;
  readonly grid: [number, number];

  constructor(
    readonly dim: number,
    grid: GridSize,
    opts: { clsToken?: boolean } = {},
  ) {
    super();
    this.grid = gridOf(this.typeName, grid);
    this.pe = this.registerBuffer("pe", sinusoidalEncoding2d(this.grid, dim, opts), { persistent: false });
  }

  override forward(x: Tensor): Tensor {
    return addEncoding(this.typeName, x, this.pe, true);
  }

  override extraRepr(): string {
    return `dim=${this.dim}, grid=(${this.grid.join(", ")})`;
  }
}

export interface LearnablePositionalEncodingOptions extends init.InitOptions {
  /** Standard deviation of the truncated-normal init (default 0.02, timm's). */
  std?: number;
}

/**
 * A learned position embedding, parameter `pos_embed` [1, numPositions, D] (timm's name and shape),
 * initialised from a normal with std 0.02 truncated to [−2, 2] (timm's `trunc_normal_(std=.02)`),
 * added to tokens [B, N, D] with N ≤ numPositions.
 *
 * @example
 * const pos = new LearnablePositionalEncoding(197, 768);
 * const y = pos.forward(tokens); // tokens [B, 197, 768]
 */
export class LearnablePositionalEncoding extends Module {
  readonly posEmbed: Tensor;

  constructor(
    readonly numPositions: number,
    readonly dim: number,
    opts: LearnablePositionalEncodingOptions = {},
  ) {
    super();
    checkCount(this.typeName, "numPositions", numPositions);
    checkCount(this.typeName, "dim", dim);
    this.posEmbed = this.registerParameter("pos_embed", empty([1, numPositions, dim]));
    init.truncNormal(this.posEmbed, 0, opts.std ?? 0.02, -2, 2, opts);
  }

  override forward(x: Tensor): Tensor {
    return addEncoding(this.typeName, x, this.posEmbed, false);
  }

  override extraRepr(): string {
    return `num_positions=${this.numPositions}, dim=${this.dim}`;
  }
}

/**
 * A learned position embedding, parameter `pos_embed` [1, numPositions, D], whose initial value is
 * the 1-D sinusoidal table (`sinusoidalEncoding1d`); added to tokens [B, N, D] with N ≤ numPositions.
 *
 * @example
 * const pos = new LearnableSinusoidalPositionalEncoding(50, 64);
 * const y = pos.forward(randn([2, 50, 64])); // starts equal to the fixed encoding, then trains
 */
export class LearnableSinusoidalPositionalEncoding extends Module {
  readonly posEmbed: Tensor;

  constructor(
    readonly numPositions: number,
    readonly dim: number,
  ) {
    super();
    checkCount(this.typeName, "numPositions", numPositions);
    const table = sinusoidal1d(this.typeName, numPositions, dim);
    this.posEmbed = this.registerParameter("pos_embed", tensor(table, { shape: [1, numPositions, dim] }));
  }

  override forward(x: Tensor): Tensor {
    return addEncoding(this.typeName, x, this.posEmbed, false);
  }

  override extraRepr(): string {
    return `num_positions=${this.numPositions}, dim=${this.dim}`;
  }
}
