/**
 * The counter-based generator every backend reproduces: Philox4x32-10 (Salmon et al., SC'11).
 * A stream position is a 64-bit key (the seed) and a block counter; block c yields four u32 lanes.
 * Because element i's bits depend only on (key, counter, i), a backend fills any slice in any order
 * or on any thread and gets the same numbers.
 *
 * Element → bits mapping (the contract, see docs/backends.md):
 * - uniform / bernoulli / randint: element i uses lane i % 4 of block counter + ⌊i/4⌋.
 *   u = (bits >>> 8) · 2⁻²⁴ ∈ [0,1); uniform = low + u·(high−low); bernoulli = u < p;
 *   randint = low + ⌊bits · (high−low) / 2³²⌋ (computed in float64, exact).
 * - normal: element i uses lanes 2(i%2), 2(i%2)+1 of block counter + ⌊i/2⌋:
 *   u1 = ((a >>> 8) + 1) · 2⁻²⁴ ∈ (0,1], u2 = (b >>> 8) · 2⁻²⁴, z = √(−2 ln u1) · cos(2π u2), in float64.
 */
import type { RandomDistribution, RandomState } from "./backend.js";

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the unsigned 64-bit product a·b. */
function mulhi(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const lohi = aLo * bHi;
  const hilo = aHi * bLo;
  const hihi = aHi * bHi;
  const mid = (lolo >>> 16) + (lohi & 0xffff) + (hilo & 0xffff);
  return (hihi + (lohi >>> 16) + (hilo >>> 16) + (mid >>> 16)) >>> 0;
}

/** Philox4x32-10 of counter (c0, c1, 0, 0) under key (k0, k1); writes four u32 lanes into `out`. */
export function philox4x32(c0: number, c1: number, k0: number, k1: number, out: Uint32Array): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = 0;
  let x3 = 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

const TWO_POW_32 = 4294967296;
const U24 = 1 / 16777216;

/** Number of 128-bit blocks a draw of `n` elements consumes. */
export function blocksFor(dist: RandomDistribution["kind"], n: number): number {
  return dist === "normal" ? Math.ceil(n / 2) : Math.ceil(n / 4);
}

/**
 * Reference fill: writes `out.length` draws of `dist` starting at `state`. `out` receives float64
 * values; the caller rounds to the storage dtype. Backends that keep f32 storage may call this directly.
 */
export function philoxFill(
  out: { length: number; [i: number]: number },
  dist: RandomDistribution,
  state: RandomState,
): void {
  const lanes = new Uint32Array(4);
  const [k0, k1] = state.key;
  const n = out.length;
  if (dist.kind === "normal") {
    for (let b = 0; b * 2 < n; b++) {
      const c = state.counter + b;
      philox4x32(c % TWO_POW_32, Math.floor(c / TWO_POW_32), k0, k1, lanes);
      for (let j = 0; j < 2 && b * 2 + j < n; j++) {
        const u1 = ((lanes[2 * j]! >>> 8) + 1) * U24;
        const u2 = (lanes[2 * j + 1]! >>> 8) * U24;
        out[b * 2 + j] = dist.mean + dist.std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      }
    }
    return;
  }
  for (let b = 0; b * 4 < n; b++) {
    const c = state.counter + b;
    philox4x32(c % TWO_POW_32, Math.floor(c / TWO_POW_32), k0, k1, lanes);
    for (let j = 0; j < 4 && b * 4 + j < n; j++) {
      const bits = lanes[j]!;
      const i = b * 4 + j;
      switch (dist.kind) {
        case "uniform":
          out[i] = dist.low + (bits >>> 8) * U24 * (dist.high - dist.low);
          break;
        case "bernoulli":
          out[i] = (bits >>> 8) * U24 < dist.p ? 1 : 0;
          break;
        case "randint":
          out[i] = dist.low + Math.floor((bits * (dist.high - dist.low)) / TWO_POW_32);
          break;
      }
    }
  }
}

/** A seeded stream. `next(n)` hands out a state and advances past the blocks the draw uses. */
export class Generator {
  private key: [number, number] = [0, 0];
  private counter = 0;

  constructor(seed = 67280421310721) {
    this.manualSeed(seed);
  }

  manualSeed(seed: number | bigint): this {
    const s = BigInt.asUintN(64, BigInt(seed));
    this.key = [Number(s & 0xffffffffn), Number(s >> 32n)];
    this.counter = 0;
    return this;
  }

  /** Snapshot for checkpointing and replay. */
  getState(): RandomState {
    return { key: [this.key[0], this.key[1]], counter: this.counter };
  }

  setState(state: RandomState): this {
    this.key = [state.key[0] >>> 0, state.key[1] >>> 0];
    this.counter = state.counter;
    return this;
  }

  next(dist: RandomDistribution["kind"], n: number): RandomState {
    const state = this.getState();
    this.counter += blocksFor(dist, n);
    return state;
  }
}

/** The default generator used when an op gets no `generator` option. */
export const defaultGenerator = new Generator();

export function manualSeed(seed: number | bigint): void {
  defaultGenerator.manualSeed(seed);
}
