/** Upsample: spatial resizing as a layer (PyTorch's `nn.Upsample`), via core's `interpolate`. */
import { fmtShape, type InterpolateOptions, interpolate, type Tensor } from "@tessera/core";
import { formatFloat, Module } from "./module.js";

export interface UpsampleOptions {
  /** Output [H, W] (or one int for both). Exactly one of `size` and `scaleFactor`. */
  size?: number | readonly [number, number];
  /** Multiplier per spatial dim; the output is ⌊in·s⌋ and source coordinates use 1/s, as in PyTorch. */
  scaleFactor?: number | readonly [number, number];
  /** `'nearest'` (default; PyTorch's legacy nearest, not nearest-exact) or `'bilinear'` (no antialias). */
  mode?: "nearest" | "bilinear";
  /** Bilinear only: align the centres of the corner pixels (default false). */
  alignCorners?: boolean;
}

/** Python's repr of a float: 2 → "2.0". */

/**
 * Resizes `[N, C, H, W]` inputs to `size` or by `scaleFactor` with F.interpolate's 1.13 rules.
 *
 * @example
 * const up = new Upsample({ scaleFactor: 2, mode: "bilinear" });
 * up.forward(randn([1, 3, 16, 16])).shape; // [1, 3, 32, 32]
 */
export class Upsample extends Module {
  readonly size: number | readonly [number, number] | undefined;
  readonly scaleFactor: number | readonly [number, number] | undefined;
  readonly mode: "nearest" | "bilinear";
  readonly alignCorners: boolean | undefined;

  constructor(opts: UpsampleOptions) {
    super();
    const hasSize = opts.size !== undefined && opts.size !== null;
    const hasScale = opts.scaleFactor !== undefined && opts.scaleFactor !== null;
    if (hasSize === hasScale) throw new TypeError("Upsample: pass exactly one of 'size' and 'scaleFactor'");
    const mode = opts.mode ?? "nearest";
    if (mode !== "nearest" && mode !== "bilinear") {
      throw new RangeError(`Upsample: mode must be 'nearest' or 'bilinear', got '${String(mode)}'`);
    }
    if (mode === "nearest" && opts.alignCorners !== undefined) {
      throw new TypeError("Upsample: alignCorners only applies to mode 'bilinear'");
    }
    this.size = opts.size;
    this.scaleFactor = opts.scaleFactor;
    this.mode = mode;
    this.alignCorners = opts.alignCorners;
  }

  override forward(x: Tensor): Tensor {
    if (x.rank !== 4) throw new RangeError(`Upsample: input must be 4-D [N,C,H,W], got ${fmtShape(x.shape)}`);
    const opts: InterpolateOptions = { mode: this.mode };
    if (this.size !== undefined) opts.size = this.size;
    else opts.scaleFactor = this.scaleFactor;
    if (this.alignCorners !== undefined) opts.alignCorners = this.alignCorners;
    return interpolate(x, opts);
  }

  override extraRepr(): string {
    const info =
      this.scaleFactor !== undefined
        ? `scale_factor=${typeof this.scaleFactor === "number" ? formatFloat(this.scaleFactor) : `(${this.scaleFactor.map(formatFloat).join(", ")})`}`
        : `size=${typeof this.size === "number" ? this.size : `(${this.size!.join(", ")})`}`;
    return `${info}, mode=${this.mode}`;
  }
}
