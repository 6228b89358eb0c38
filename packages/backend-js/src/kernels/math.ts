/** Scalar math that `Math` lacks, shared by the elementwise and fused kernels. */

/** erf to float32 precision: Taylor series near 0, Chebyshev-fitted erfc (fractional error < 1.2e-7) elsewhere. */
export function erf(x: number): number {
  // NaN, and ±0 keeping its sign (the series below would turn -0 into +0).
  if (Number.isNaN(x) || x === 0) return x;
  const ax = Math.abs(x);
  if (ax < 0.5) {
    // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 12; n++) {
      term *= -x2 / n;
      sum += term / (2 * n + 1);
    }
    return sum * 1.1283791670955126;
  }
  const t = 1 / (1 + 0.5 * ax);
  const erfc =
    t *
    Math.exp(
      -ax * ax -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - erfc : erfc - 1;
}

export function sigmoid(x: number): number {
  // Two branches keep exp() from overflowing for large |x|.
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Round half to even (torch.round). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * sign: NaN stays NaN and ±0 keeps its sign, like NumPy. PyTorch 1.13 gives sign(NaN) = 0 and
 * sign(-0) = +0 (a long-standing upstream issue); Tessera keeps the NaN rather than hide it.
 */
export function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : x;
}

/**
 * torch.pow / C99 pow. JS `**` returns NaN for 1 ** NaN and (±1) ** ±Inf, where C and PyTorch give 1;
 * everything else (pow(x, ±0) = 1 even for NaN x, the signed zeros and infinities) already agrees.
 */
export function pow(a: number, b: number): number {
  const r = a ** b;
  if (
    Number.isNaN(r) &&
    (a === 1 || (a === -1 && (b === Number.POSITIVE_INFINITY || b === Number.NEGATIVE_INFINITY)))
  )
    return 1;
  return r;
}
