/**
 * Line charts as PNG-ready RGB images (loss and accuracy curves): axes with "nice" ticks, grid lines,
 * title, axis labels and a legend, drawn on the plot module's own canvas so no plotting stack is needed.
 */
import type { DecodedImage } from "@tessera/data";
import { FONT_HEIGHT, textWidth } from "./font.js";
import { Canvas, type Rgb } from "./raster.js";

/** One named curve: `y[i]` at `x[i]`; non-finite values leave a gap. */
export interface Series {
  name: string;
  x: number[];
  y: number[];
}

/** What `lineChart` draws. */
export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Image width in pixels (default 640, at least 160). */
  width?: number;
  /** Image height in pixels (default 400, at least 120). */
  height?: number;
}

/**
 * The series colours, in order (matplotlib's "tab10": distinct, and readable by most colour-blind
 * viewers); series beyond ten reuse them.
 *
 * @example
 * ```ts
 * const [r, g, b] = SERIES_COLORS[0]!; // the first series' colour, [31, 119, 180]
 * ```
 */
export const SERIES_COLORS: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

const BLACK: Rgb = [0, 0, 0];
const AXIS: Rgb = [60, 60, 60];
const GRID: Rgb = [228, 228, 228];
const LEGEND_BORDER: Rgb = [190, 190, 190];
const TEXT_SCALE = 1;
const TITLE_SCALE = 2;
/** Points at or below this count per series are also marked with dots (e.g. one value per epoch). */
const MARK_POINTS_UP_TO = 40;

/**
 * Evenly spaced round tick values covering [min, max]: the step is 1, 2 or 5 × 10^k, the first tick
 * is ≤ min and the last ≥ max, with 3 to `maxTicks` ticks (`maxTicks`, default 7, is kept within
 * 5…10: the next smaller nice step is at most 2.5× smaller, so 5 is the least that still guarantees
 * three). A zero-width range (a constant series) is widened around its value; a non-finite bound
 * gives the ticks of [0, 1]. `integer` keeps the step ≥ 1 (epochs, steps), so [1, 2] gives two ticks.
 *
 * @example
 * ```ts
 * niceTicks(0.13, 0.92); // [0, 0.2, 0.4, 0.6, 0.8, 1]
 * niceTicks(1, 3, { integer: true }); // [1, 2, 3]
 * ```
 */
export function niceTicks(
  min: number,
  max: number,
  opts: { maxTicks?: number; integer?: boolean } = {},
): number[] {
  const maxTicks = Math.min(10, Math.max(5, Math.floor(opts.maxTicks ?? 7)));
  let lo = Math.min(min, max);
  let hi = Math.max(min, max);
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) {
    lo = 0;
    hi = 1;
  }
  // Widen a range too narrow for float steps (a constant series) symmetrically around its middle.
  const mid = (lo + hi) / 2;
  const tiny = Math.max(Math.abs(mid) * 1e-9, 1e-200);
  if (hi - lo <= tiny) {
    const half = Math.abs(mid) > 1e-200 ? Math.abs(mid) * 0.1 : 1;
    lo = mid - half;
    hi = mid + half;
  }
  if (opts.integer) {
    lo = Math.floor(lo);
    hi = Math.ceil(hi);
    if (hi === lo) hi = lo + 1;
  }
  const span = hi - lo;
  if (!Number.isFinite(span)) return [lo, hi];
  // Smallest nice step with at most maxTicks ticks: the step below it gave more than maxTicks, which
  // (steps differ by ≤ 2.5×) guarantees at least 3 ticks here.
  let exp = Math.floor(Math.log10(span / (maxTicks - 1)));
  for (let guard = 0; guard < 10; guard++) {
    for (const m of [1, 2, 5]) {
      const step = m * 10 ** exp;
      if (opts.integer && step < 1) continue;
      // The 1e-9 absorbs float error (0.3 / 0.1 = 2.9999999999999996); the checks keep coverage exact.
      let first = Math.floor(lo / step + 1e-9);
      let last = Math.ceil(hi / step - 1e-9);
      if (clean(first * step) > lo) first--;
      if (clean(last * step) < hi) last++;
      if (last - first + 1 <= maxTicks) {
        const ticks: number[] = [];
        for (let k = first; k <= last; k++) ticks.push(clean(k * step));
        return ticks;
      }
    }
    exp++;
  }
  return [lo, hi]; // unreachable for finite spans: a step above the span always fits
}

/** k·step without float noise (3 × 0.1 is 0.30000000000000004): 12 significant digits are plenty for ≤ 10 ticks. */
function clean(v: number): number {
  const r = Number(v.toPrecision(12));
  return r === 0 ? 0 : r; // no "-0"
}

/**
 * Tick labels for one axis: the same number of decimals on every tick (enough for the step), and
 * exponent notation for very large or very small magnitudes.
 *
 * @example
 * ```ts
 * formatTicks([0, 0.25, 0.5]); // ["0.00", "0.25", "0.50"]
 * formatTicks([0, 2e6, 4e6]); // ["0", "2e+6", "4e+6"]
 * ```
 */
export function formatTicks(ticks: number[]): string[] {
  if (ticks.length === 0) return [];
  const step = ticks.length > 1 ? Math.abs((ticks[1] as number) - (ticks[0] as number)) : 1;
  const biggest = Math.max(...ticks.map(Math.abs));
  if (biggest >= 1e6 || (step > 0 && step < 1e-4)) {
    return ticks.map((t) => (t === 0 ? "0" : Number(t.toPrecision(6)).toExponential()));
  }
  let decimals = 0;
  while (
    decimals < 10 &&
    Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6 * 10 ** decimals
  ) {
    decimals++;
  }
  return ticks.map((t) => t.toFixed(decimals));
}

/**
 * A line chart of one or more series as an 8-bit RGB image, ready for `writeImage`. Each series gets
 * its own colour (`SERIES_COLORS`), a legend entry and, when it has few points, dots on them. NaN or
 * infinite values break a line; a single point is drawn as a dot; empty series and constant series
 * are fine (the axis is widened around a constant).
 *
 * @example
 * ```ts
 * import { writeImage } from "@tessera/data";
 * const img = lineChart({
 *   title: "Loss", xLabel: "epoch", yLabel: "cross-entropy",
 *   series: [{ name: "train", x: [1, 2, 3], y: [0.9, 0.5, 0.4] }, { name: "test", x: [1, 2, 3], y: [0.8, 0.6, 0.55] }],
 * });
 * await writeImage("loss.png", img);
 * ```
 */
export function lineChart(opts: LineChartOptions): DecodedImage {
  const width = Math.max(160, Math.round(opts.width ?? 640));
  const height = Math.max(120, Math.round(opts.height ?? 400));
  const canvas = new Canvas(width, height);
  const series = opts.series;

  // Data extent over finite points only.
  let xMin = Number.POSITIVE_INFINITY;
  let xMax = Number.NEGATIVE_INFINITY;
  let yMin = Number.POSITIVE_INFINITY;
  let yMax = Number.NEGATIVE_INFINITY;
  let allIntegerX = true;
  let points = 0;
  for (const s of series) {
    const n = Math.min(s.x.length, s.y.length);
    for (let i = 0; i < n; i++) {
      const x = s.x[i] as number;
      const y = s.y[i] as number;
      if (!(Number.isFinite(x) && Number.isFinite(y))) continue;
      points++;
      if (x < xMin) xMin = x;
      if (x > xMax) xMax = x;
      if (y < yMin) yMin = y;
      if (y > yMax) yMax = y;
      if (!Number.isInteger(x)) allIntegerX = false;
    }
  }
  const empty = points === 0;
  const xTicks = empty ? niceTicks(0, 1) : niceTicks(xMin, xMax, { integer: allIntegerX, maxTicks: 9 });
  const yTicks = empty ? niceTicks(0, 1) : niceTicks(yMin, yMax);
  const xLabels = formatTicks(xTicks);
  const yLabels = formatTicks(yTicks);

  // Layout: title on top, y label and tick labels on the left, x tick labels and label below.
  const th = FONT_HEIGHT * TEXT_SCALE;
  const titleH = opts.title ? FONT_HEIGHT * TITLE_SCALE + 12 : 0;
  const yTickW = Math.max(...yLabels.map((l) => textWidth(l, TEXT_SCALE)));
  const left = 12 + (opts.yLabel ? th + 10 : 0) + yTickW + 8;
  const right = 20;
  const top = 12 + titleH;
  const bottom = 10 + th + 8 + (opts.xLabel ? th + 10 : 0);
  const plot = { x: left, y: top, width: width - left - right, height: height - top - bottom };
  if (plot.width < 20 || plot.height < 20) {
    throw new RangeError(`lineChart: ${width}×${height} leaves no room for the plot; use at least 320×200`);
  }

  const x0 = xTicks[0] as number;
  const x1 = xTicks[xTicks.length - 1] as number;
  const y0 = yTicks[0] as number;
  const y1 = yTicks[yTicks.length - 1] as number;
  const px = (x: number): number => plot.x + ((x - x0) / (x1 - x0)) * (plot.width - 1) + 0.5;
  const py = (y: number): number => plot.y + (1 - (y - y0) / (y1 - y0)) * (plot.height - 1) + 0.5;

  // Grid, ticks and tick labels.
  for (let i = 0; i < yTicks.length; i++) {
    const y = Math.floor(py(yTicks[i] as number));
    canvas.fillRect(plot.x, y, plot.width, 1, GRID);
    canvas.fillRect(plot.x - 5, y, 5, 1, AXIS);
    const label = yLabels[i] as string;
    canvas.text(
      plot.x - 8 - textWidth(label, TEXT_SCALE),
      y - Math.floor(th / 2) + 1,
      label,
      BLACK,
      TEXT_SCALE,
    );
  }
  for (let i = 0; i < xTicks.length; i++) {
    const x = Math.floor(px(xTicks[i] as number));
    canvas.fillRect(x, plot.y, 1, plot.height, GRID);
    canvas.fillRect(x, plot.y + plot.height, 1, 5, AXIS);
    const label = xLabels[i] as string;
    canvas.text(
      x - Math.floor(textWidth(label, TEXT_SCALE) / 2),
      plot.y + plot.height + 9,
      label,
      BLACK,
      TEXT_SCALE,
    );
  }
  canvas.strokeRect(plot.x - 1, plot.y - 1, plot.width + 2, plot.height + 2, AXIS);

  // Title and axis labels.
  if (opts.title) {
    canvas.text(
      Math.floor((width - textWidth(opts.title, TITLE_SCALE)) / 2),
      12,
      opts.title,
      BLACK,
      TITLE_SCALE,
    );
  }
  if (opts.xLabel) {
    const w = textWidth(opts.xLabel, TEXT_SCALE);
    canvas.text(plot.x + Math.floor((plot.width - w) / 2), height - 10 - th, opts.xLabel, BLACK, TEXT_SCALE);
  }
  if (opts.yLabel) {
    const w = textWidth(opts.yLabel, TEXT_SCALE);
    canvas.text(12, plot.y + Math.floor((plot.height - w) / 2), opts.yLabel, BLACK, TEXT_SCALE, true);
  }

  if (empty) {
    const msg = "no data";
    canvas.text(
      plot.x + Math.floor((plot.width - textWidth(msg, 2)) / 2),
      plot.y + plot.height / 2 - 8,
      msg,
      AXIS,
      2,
    );
  }

  // Series: lines (gaps at non-finite values), dots where points are few or isolated.
  for (let si = 0; si < series.length; si++) {
    const s = series[si] as Series;
    const color = SERIES_COLORS[si % SERIES_COLORS.length] as Rgb;
    const n = Math.min(s.x.length, s.y.length);
    const xs = new Float64Array(n);
    const ys = new Float64Array(n);
    let finite = 0;
    for (let i = 0; i < n; i++) {
      const ok = Number.isFinite(s.x[i]) && Number.isFinite(s.y[i]);
      xs[i] = ok ? px(s.x[i] as number) : Number.NaN;
      ys[i] = ok ? py(s.y[i] as number) : Number.NaN;
      if (ok) finite++;
    }
    canvas.polyline(xs, ys, color, 2, plot);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(xs[i])) continue;
      const isolated = !Number.isFinite(xs[i - 1] ?? Number.NaN) && !Number.isFinite(xs[i + 1] ?? Number.NaN);
      if (finite <= MARK_POINTS_UP_TO || isolated) canvas.disk(xs[i] as number, ys[i] as number, 3, color);
    }
  }

  if (series.length > 0) drawLegend(canvas, series, plot, px, py);
  return canvas.toImage();
}

/** The legend box, in whichever inner corner of the plot covers the fewest data points. */
function drawLegend(
  canvas: Canvas,
  series: Series[],
  plot: { x: number; y: number; width: number; height: number },
  px: (x: number) => number,
  py: (y: number) => number,
): void {
  const rowH = FONT_HEIGHT * TEXT_SCALE + 6;
  const swatch = 18;
  const names = series.map((s) => s.name || "(unnamed)");
  const boxW = 8 + swatch + 6 + Math.max(...names.map((n) => textWidth(n, TEXT_SCALE))) + 8;
  const boxH = 6 + rowH * series.length;
  const margin = 8;
  const corners = [
    { x: plot.x + plot.width - boxW - margin, y: plot.y + margin },
    { x: plot.x + margin, y: plot.y + margin },
    { x: plot.x + plot.width - boxW - margin, y: plot.y + plot.height - boxH - margin },
    { x: plot.x + margin, y: plot.y + plot.height - boxH - margin },
  ];
  let best = corners[0] as { x: number; y: number };
  let bestCount = Number.POSITIVE_INFINITY;
  for (const c of corners) {
    let count = 0;
    for (const s of series) {
      const n = Math.min(s.x.length, s.y.length);
      for (let i = 0; i < n; i++) {
        const x = px(s.x[i] as number);
        const y = py(s.y[i] as number);
        if (x >= c.x - 4 && x <= c.x + boxW + 4 && y >= c.y - 4 && y <= c.y + boxH + 4) count++;
      }
    }
    if (count < bestCount) {
      bestCount = count;
      best = c;
    }
  }
  canvas.fillRect(best.x, best.y, boxW, boxH, [255, 255, 255]);
  canvas.strokeRect(best.x, best.y, boxW, boxH, LEGEND_BORDER);
  for (let i = 0; i < series.length; i++) {
    const color = SERIES_COLORS[i % SERIES_COLORS.length] as Rgb;
    const cy = best.y + 6 + i * rowH + Math.floor((FONT_HEIGHT * TEXT_SCALE) / 2);
    canvas.line(best.x + 8, cy, best.x + 8 + swatch, cy, color, 2);
    canvas.text(
      best.x + 8 + swatch + 6,
      cy - Math.floor((FONT_HEIGHT * TEXT_SCALE) / 2) + 1,
      names[i] as string,
      BLACK,
      TEXT_SCALE,
    );
  }
}
