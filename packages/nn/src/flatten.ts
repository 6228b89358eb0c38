/** Flatten and Unflatten: reshape layers for Sequential stacks (PyTorch's `nn.Flatten` / `nn.Unflatten`). */
import { fmtShape, type Tensor } from "@tessera/core";
import { Module } from "./module.js";

function normDim(owner: string, name: string, dim: number, rank: number): number {
  if (!Number.isInteger(dim) || dim < -rank || dim >= rank) {
    throw new RangeError(`${owner}: ${name} ${dim} is out of range for a ${rank}-D input`);
  }
  return dim < 0 ? dim + rank : dim;
}

/**
 * Merges dims `startDim…endDim` into one (a view when the input is contiguous). The defaults keep the
 * batch dim: `[N, C, H, W] → [N, C·H·W]`.
 *
 * @example
 * const flat = new Flatten();
 * flat.forward(randn([8, 16, 4, 4])).shape; // [8, 256]
 */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
    for (const [k, v] of [
      ["startDim", startDim],
      ["endDim", endDim],
    ] as const) {
      if (!Number.isInteger(v)) throw new RangeError(`Flatten: ${k} must be an integer, got ${v}`);
    }
  }

  override forward(x: Tensor): Tensor {
    // A 0-d tensor flattens to [1], like torch.
    const rank = Math.max(x.rank, 1);
    const s = normDim("Flatten", "startDim", this.startDim, rank);
    const e = normDim("Flatten", "endDim", this.endDim, rank);
    if (s > e) {
      throw new RangeError(
        `Flatten: startDim ${this.startDim} comes after endDim ${this.endDim} for input ${fmtShape(x.shape)}`,
      );
    }
    return x.rank === 0 ? x.reshape([1]) : x.flatten(s, e);
  }

  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

/**
 * Splits dim `dim` into `sizes` (one entry may be −1, inferred): with dim 1 and sizes [16, 4, 4],
 * `[N, 256] → [N, 16, 4, 4]`. The inverse of Flatten.
 *
 * @example
 * const unflat = new Unflatten(1, [16, 4, 4]);
 * unflat.forward(randn([8, 256])).shape; // [8, 16, 4, 4]
 */
export class Unflatten extends Module {
  readonly sizes: readonly number[];

  constructor(
    readonly dim: number,
    sizes: readonly number[],
  ) {
    super();
    if (!Number.isInteger(dim)) throw new RangeError(`Unflatten: dim must be an integer, got ${dim}`);
    this.sizes = [...sizes];
    const inferred = this.sizes.filter((s) => s === -1).length;
    if (
      this.sizes.length === 0 ||
      inferred > 1 ||
      !this.sizes.every((s) => Number.isInteger(s) && (s >= 0 || s === -1))
    ) {
      throw new RangeError(
        `Unflatten: sizes must be a non-empty list of non-negative integers with at most one -1, got [${this.sizes.join(", ")}]`,
      );
    }
  }

  override forward(x: Tensor): Tensor {
    const d = normDim("Unflatten", "dim", this.dim, x.rank);
    const n = x.shape[d]!;
    const known = this.sizes.reduce((a, s) => (s === -1 ? a : a * s), 1);
    const fits = this.sizes.includes(-1) ? known !== 0 && n % known === 0 : known === n;
    if (!fits) {
      throw new RangeError(
        `Unflatten: sizes [${this.sizes.join(", ")}] do not multiply to dim ${this.dim} of size ${n} (input ${fmtShape(x.shape)})`,
      );
    }
    return x.reshape([...x.shape.slice(0, d), ...this.sizes, ...x.shape.slice(d + 1)]);
  }

  override extraRepr(): string {
    return `dim=${this.dim}, unflattened_size=(${this.sizes.join(", ")}${this.sizes.length === 1 ? "," : ""})`;
  }
}
