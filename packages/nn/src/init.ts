/**
 * Parameter initialisers (PyTorch's `torch.nn.init`), in place on the tensor they are given and
 * drawn from core's counter-based generator: the same seed gives the same weights on every backend.
 * Exported as the namespace `init` (`init.xavierUniform(w)`), since `zeros`/`ones`/`normal` are
 * also core's creation functions.
 */
import {
  assign,
  defaultGenerator,
  type Generator,
  normal as normalTensor,
  type Tensor,
  tensor,
  uniform as uniformTensor,
} from "@tessera/core";

export interface InitOptions {
  /** The stream to draw from (default: core's global generator, seeded by `manualSeed`). */
  generator?: Generator;
}

export type Nonlinearity =
  | "linear"
  | "conv2d"
  | "conv_transpose2d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leaky_relu"
  | "selu";

export type FanMode = "fanIn" | "fanOut";

export interface KaimingOptions extends InitOptions {
  /** The negative slope of the leaky ReLU that follows (`sqrt(5)` gives PyTorch's Linear/Conv default). */
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
}

/**
 * The recommended gain for a nonlinearity (PyTorch's `calculate_gain`).
 *
 * @example
 * init.calculateGain("relu"); // √2
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "conv2d":
    case "conv_transpose2d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu": {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
    default:
      throw new RangeError(`calculateGain: unknown nonlinearity ${JSON.stringify(nonlinearity)}`);
  }
}

/**
 * `[fanIn, fanOut]` of a weight as PyTorch computes them: dim 1 and dim 0 times the receptive field
 * (the product of dims 2…). A ConvTranspose2d weight `[in, out, kh, kw]` therefore has fan-in `out·kh·kw`.
 *
 * @example
 * init.fans(empty([64, 3, 7, 7])); // [147, 3136]
 */
export function fans(t: Tensor): [number, number] {
  if (t.rank < 2) {
    throw new RangeError(
      `init: fan in and fan out need a tensor of rank >= 2, got shape [${t.shape.join(", ")}]`,
    );
  }
  let receptive = 1;
  for (let i = 2; i < t.rank; i++) receptive *= t.shape[i]!;
  return [t.shape[1]! * receptive, t.shape[0]! * receptive];
}

function fill(t: Tensor, make: (backend: string) => Tensor): Tensor {
  if (t.size === 0) return t;
  const r = make(t.backendName);
  try {
    assign(t, r);
  } finally {
    r.dispose();
  }
  return t;
}

/**
 * Fills `t` from U(low, high).
 *
 * @example
 * init.uniform(empty([4, 4]), -0.1, 0.1);
 */
export function uniform(t: Tensor, low = 0, high = 1, opts: InitOptions = {}): Tensor {
  return fill(t, (backend) => uniformTensor(t.shape, low, high, { backend, generator: opts.generator }));
}

/**
 * Fills `t` from N(mean, std²).
 *
 * @example
 * init.normal(empty([4, 4]), 0, 0.02);
 */
export function normal(t: Tensor, mean = 0, std = 1, opts: InitOptions = {}): Tensor {
  return fill(t, (backend) => normalTensor(t.shape, mean, std, { backend, generator: opts.generator }));
}

/**
 * Fills `t` with `value`.
 *
 * @example
 * init.constant(empty([4]), 0.5);
 */
export function constant(t: Tensor, value: number): Tensor {
  return fill(t, (backend) => tensor(value, { backend }));
}

/**
 * Fills `t` with 0.
 *
 * @example
 * init.zeros(empty([4]));
 */
export function zeros(t: Tensor): Tensor {
  return constant(t, 0);
}

/**
 * Fills `t` with 1.
 *
 * @example
 * init.ones(empty([4]));
 */
export function ones(t: Tensor): Tensor {
  return constant(t, 1);
}

/**
 * Glorot uniform: U(−b, b) with b = gain·sqrt(6 / (fanIn + fanOut)).
 *
 * @example
 * init.xavierUniform(empty([96, 32])); // MultiheadAttention's in_proj_weight
 */
export function xavierUniform(t: Tensor, gain = 1, opts: InitOptions = {}): Tensor {
  const [fanIn, fanOut] = fans(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(t, -bound, bound, opts);
}

/**
 * Glorot normal: N(0, std²) with std = gain·sqrt(2 / (fanIn + fanOut)).
 *
 * @example
 * init.xavierNormal(empty([128, 64]));
 */
export function xavierNormal(t: Tensor, gain = 1, opts: InitOptions = {}): Tensor {
  const [fanIn, fanOut] = fans(t);
  return normal(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), opts);
}

function kaimingStd(t: Tensor, opts: KaimingOptions): number {
  const [fanIn, fanOut] = fans(t);
  const mode = opts.mode ?? "fanIn";
  if (mode !== "fanIn" && mode !== "fanOut") {
    throw new RangeError(`kaiming: mode must be 'fanIn' or 'fanOut', got ${JSON.stringify(mode)}`);
  }
  const fan = mode === "fanIn" ? fanIn : fanOut;
  const gain = calculateGain(opts.nonlinearity ?? "leaky_relu", opts.a ?? 0);
  return gain / Math.sqrt(fan);
}

/**
 * He uniform: U(−b, b) with b = gain·sqrt(3 / fan). `{ a: Math.sqrt(5) }` is PyTorch's Linear/Conv default.
 *
 * @example
 * init.kaimingUniform(empty([128, 64]), { a: Math.sqrt(5) }); // Linear's default
 */
export function kaimingUniform(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, opts);
  return uniform(t, -bound, bound, opts);
}

/**
 * He normal: N(0, std²) with std = gain / sqrt(fan).
 *
 * @example
 * init.kaimingNormal(empty([64, 3, 3, 3]), { mode: "fanOut", nonlinearity: "relu" });
 */
export function kaimingNormal(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal(t, 0, kaimingStd(t, opts), opts);
}

/**
 * Inverse error function, float64 (Giles, "Approximating the erfinv function", 2010), refined by
 * two Newton steps so it is exact to ~1e-15 over (−1, 1).
 */
function erfinv(y: number): number {
  if (y <= -1) return Number.NEGATIVE_INFINITY;
  if (y >= 1) return Number.POSITIVE_INFINITY;
  let w = -Math.log((1 - y) * (1 + y));
  let x: number;
  if (w < 5) {
    w -= 2.5;
    let p = 2.81022636e-8;
    p = 3.43273939e-7 + p * w;
    p = -3.5233877e-6 + p * w;
    p = -4.39150654e-6 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
    x = p * y;
  } else {
    w = Math.sqrt(w) - 3;
    let p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
    x = p * y;
  }
  for (let k = 0; k < 2; k++) {
    const err = erf(x) - y;
    x -= err / ((2 / Math.sqrt(Math.PI)) * Math.exp(-x * x));
  }
  return x;
}

/** erf in float64 (Abramowitz–Stegun 7.1.26 is too coarse for Newton refinement; this uses a series / continued fraction). */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2) {
    // Maclaurin series: converges fast for |x| < 2.
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  // Continued fraction for erfc (Lentz), accurate for |x| >= 2.
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = 1 / d;
    c = ax + an / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return x < 0 ? erfc - 1 : 1 - erfc;
}

/**
 * Normal N(mean, std²) truncated to [a, b], by inverse-CDF sampling like PyTorch's
 * `trunc_normal_` (uniform draws from core's generator, transformed in float64).
 *
 * @example
 * init.truncNormal(empty([1, 197, 768]), 0, 0.02); // timm's pos_embed init
 */
export function truncNormal(t: Tensor, mean = 0, std = 1, a = -2, b = 2, opts: InitOptions = {}): Tensor {
  if (!(a < b)) throw new RangeError(`truncNormal: need a < b, got a=${a}, b=${b}`);
  if (!(std > 0)) throw new RangeError(`truncNormal: std must be > 0, got ${std}`);
  if (t.size === 0) return t;
  const cdf = (x: number) => (1 + erf((x - mean) / std / Math.SQRT2)) / 2;
  const lo = 2 * cdf(a) - 1;
  const hi = 2 * cdf(b) - 1;
  const u = uniformTensor([t.size], lo, hi, {
    backend: t.backendName,
    generator: opts.generator ?? defaultGenerator,
  });
  let draws: Float32Array;
  try {
    draws = u.dataSync() as Float32Array;
  } finally {
    u.dispose();
  }
  const out = new Float32Array(draws.length);
  for (let i = 0; i < draws.length; i++) {
    const v = mean + std * Math.SQRT2 * erfinv(draws[i]!);
    out[i] = Math.min(Math.max(v, a), b);
  }
  return fill(t, (backend) => tensor(out, { shape: t.shape, backend }));
}
