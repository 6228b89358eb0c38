/** Dropout (PyTorch's `nn.Dropout`). */
import { dropout, type Generator, type Tensor } from "@tessera/core";
import { formatFloat, Module } from "./module.js";

export interface DropoutModuleOptions {
  /** The stream for the keep masks (default: core's global generator). */
  generator?: Generator;
}

/**
 * In training mode zeroes each element with probability `p` and scales the rest by 1/(1−p); in
 * eval mode returns its input. Masks come from core's counter-based generator, so a seeded run
 * drops the same elements on every backend.
 *
 * @example
 * const drop = new Dropout(0.1);
 * drop.eval();
 * drop.forward(x); // x unchanged
 */
export class Dropout extends Module {
  private readonly generator: Generator | undefined;

  constructor(
    readonly p = 0.5,
    opts: DropoutModuleOptions = {},
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
    this.generator = opts.generator;
  }

  override forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, { generator: this.generator });
  }

  override extraRepr(): string {
    return `p=${formatFloat(this.p)}, inplace=False`;
  }
}
