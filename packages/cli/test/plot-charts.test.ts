import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatTicks, lineChart, niceTicks, SERIES_COLORS } from "../src/plot/charts.js";

function countColor(img: { data: Uint8Array | Uint16Array }, [r, g, b]: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < img.data.length; i += 3) {
    if (img.data[i] === r && img.data[i + 1] === g && img.data[i + 2] === b) n++;
  }
  return n;
}

/** True when `step` is 1, 2 or 5 times a power of ten (relative tolerance for the float power). */
function isNiceStep(step: number): boolean {
  const m = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
  return [1, 2, 5, 10].some((n) => Math.abs(m - n) < 1e-6 * n);
}

describe("niceTicks", () => {
  // Bounds up to ±1e9 with at least 1e-6 relative width (or exactly equal): the range a metric has.
  const bound = fc.double({ min: -1e9, max: 1e9, noNaN: true, noDefaultInfinity: true });

  it("covers the range with 3 to 10 evenly spaced ticks whose step is 1, 2 or 5 × 10^k", () => {
    fc.assert(
      fc.property(bound, bound, fc.integer({ min: 5, max: 10 }), (a, b, maxTicks) => {
        const lo = Math.min(a, b);
        const hi = Math.max(a, b);
        fc.pre(hi === lo || hi - lo > 1e-6 * Math.max(Math.abs(lo), Math.abs(hi)));
        const ticks = niceTicks(lo, hi, { maxTicks });
        expect(ticks.length).toBeGreaterThanOrEqual(3);
        expect(ticks.length).toBeLessThanOrEqual(maxTicks);
        const step = (ticks[1] as number) - (ticks[0] as number);
        // Ticks are rounded to the step's decimals, so spacing and coverage hold up to float error.
        const tol = step * 1e-6;
        expect(ticks[0]).toBeLessThanOrEqual(lo + tol);
        expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(hi - tol);
        expect(isNiceStep(step)).toBe(true);
        for (let i = 1; i < ticks.length; i++) {
          expect(Math.abs((ticks[i] as number) - (ticks[i - 1] as number) - step)).toBeLessThanOrEqual(tol);
          // Each tick is a whole multiple of the step (round numbers, 0 included when crossed).
          const k = (ticks[i] as number) / step;
          expect(Math.abs(k - Math.round(k))).toBeLessThan(1e-6);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("keeps integer steps for integer axes and widens a constant range", () => {
    expect(niceTicks(1, 3, { integer: true })).toEqual([1, 2, 3]);
    expect(niceTicks(0.13, 0.92)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    const constant = niceTicks(5, 5);
    expect(constant[0]).toBeLessThan(5);
    expect(constant[constant.length - 1]).toBeGreaterThan(5);
    expect(niceTicks(Number.NaN, 1)).toEqual(niceTicks(0, 1));
  });

  it("formats ticks with one shared number of decimals", () => {
    expect(formatTicks([0, 0.25, 0.5])).toEqual(["0.00", "0.25", "0.50"]);
    expect(formatTicks([0, 0.2, 0.4])).toEqual(["0.0", "0.2", "0.4"]);
    expect(formatTicks([0, 500, 1000])).toEqual(["0", "500", "1000"]);
    expect(formatTicks([0, 2e6, 4e6])).toEqual(["0", "2e+6", "4e+6"]);
  });
});

describe("lineChart", () => {
  const epochs = [1, 2, 3, 4, 5];
  const series = [
    { name: "train", x: epochs, y: [0.9, 0.6, 0.45, 0.4, 0.38] },
    { name: "test", x: epochs, y: [0.95, 0.7, 0.6, 0.58, 0.57] },
    { name: "lr", x: epochs, y: [0.1, 0.2, 0.3, 0.2, 0.1] },
  ];

  it("is an RGB8 image of the requested size on a white background", () => {
    const img = lineChart({
      title: "Loss",
      xLabel: "epoch",
      yLabel: "loss",
      series,
      width: 500,
      height: 300,
    });
    expect([img.width, img.height, img.channels, img.bitDepth]).toEqual([500, 300, 3, 8]);
    expect(img.data.length).toBe(500 * 300 * 3);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([255, 255, 255]);
    expect(countColor(img, [255, 255, 255])).toBeGreaterThan(500 * 300 * 0.5);
  });

  it("draws every series in its own colour", () => {
    const img = lineChart({ title: "Loss", xLabel: "epoch", yLabel: "loss", series });
    for (let i = 0; i < series.length; i++) {
      // A 2-pixel line through 5 points spans hundreds of pixels at full coverage (exact colour).
      expect(countColor(img, SERIES_COLORS[i] as readonly number[])).toBeGreaterThan(100);
    }
    expect(countColor(img, SERIES_COLORS[3] as readonly number[])).toBe(0);
  });

  it("handles empty, one-point, constant and NaN-broken series without failing", () => {
    const img = lineChart({
      title: "edge cases",
      xLabel: "x",
      yLabel: "y",
      series: [
        { name: "empty", x: [], y: [] },
        { name: "one", x: [3], y: [2] },
        { name: "constant", x: [0, 1, 2], y: [2, 2, 2] },
        { name: "gap", x: [0, 1, 2, 3], y: [1, Number.NaN, 3, Number.POSITIVE_INFINITY] },
      ],
    });
    expect(img.width).toBe(640);
    // The single point is drawn as a dot, the constant series as a horizontal line.
    expect(countColor(img, SERIES_COLORS[1] as readonly number[])).toBeGreaterThan(10);
    expect(countColor(img, SERIES_COLORS[2] as readonly number[])).toBeGreaterThan(100);
    const none = lineChart({ title: "nothing", xLabel: "x", yLabel: "y", series: [] });
    expect(none.height).toBe(400);
  });

  it("raises a size too small for axes and labels to 160×120", () => {
    const img = lineChart({ title: "t", xLabel: "x", yLabel: "y", series, width: 1, height: 1 });
    expect([img.width, img.height]).toEqual([160, 120]);
  });
});
