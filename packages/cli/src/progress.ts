/**
 * What a training run prints: a live progress line per epoch on a terminal (rewritten with `\r`), or
 * plain lines about every tenth of an epoch when the output is a file or a pipe, plus one summary
 * line per epoch. The formatting helpers are pure so they can be tested on their own.
 */

/**
 * Seconds as `42.0 s`, `3 m 07 s` or `1 h 02 m`.
 *
 * @example
 * formatDuration(24.08); // "24.1 s"
 * formatDuration(187); // "3 m 07 s"
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} m`;
}

/**
 * Time left for `remaining` units at the rate seen so far (`done` units in `elapsed` seconds); `?`
 * before anything is done.
 *
 * @example
 * eta(10, 5, 30); // 15 (seconds: 30 units at 2 per second)
 */
export function eta(done: number, elapsedSeconds: number, remaining: number): number {
  if (done <= 0 || elapsedSeconds <= 0) return Number.NaN;
  return (remaining * elapsedSeconds) / done;
}

/**
 * A rate as a short number: `412`, `41.2`, `4.12`, `0.412`.
 *
 * @example
 * formatRate(412.3); // "412"
 * formatRate(3.2049); // "3.20"
 */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return "?";
  if (perSecond >= 100) return perSecond.toFixed(0);
  if (perSecond >= 10) return perSecond.toFixed(1);
  if (perSecond >= 1) return perSecond.toFixed(2);
  return perSecond.toFixed(3);
}

/**
 * A text bar `[=====>    ]` of `width` cells for a fraction in [0, 1].
 *
 * @example
 * progressBar(0.5, 10); // "[=====>    ]"
 */
export function progressBar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.floor(f * width);
  if (full >= width) return `[${"=".repeat(width)}]`;
  return `[${"=".repeat(full)}>${" ".repeat(width - full - 1)}]`;
}

/** One metric of a line: accuracy-like keys as percentages, losses with 3 decimals. */
export function formatMetric(key: string, value: number): string {
  if (key.endsWith("acc") || key.endsWith("accuracy")) return `${(value * 100).toFixed(1)}%`;
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e4)) return value.toExponential(2);
  return value.toFixed(abs >= 100 ? 1 : 3);
}

/** The numbers of one epoch, as metrics.json records them. */
export interface EpochMetrics {
  /** 1-based. */
  epoch: number;
  /** Training metrics: `loss` and the task's (e.g. `accuracy`), averaged over the epoch. */
  train: Record<string, number>;
  /** Test metrics (absent when the task has no test split). */
  test?: Record<string, number>;
  /** Training images (samples) per second, data loading included. */
  samplesPerSecond: number;
  /** The share of the epoch's time spent waiting for the data loader, in [0, 1]. */
  dataWait: number;
  seconds: number;
  /** The learning rate at the end of the epoch. */
  lr: number;
}

/** Short names for the summary line. */
function label(key: string): string {
  return key === "accuracy" ? "acc" : key;
}

/**
 * The epoch's summary line.
 *
 * @example
 * formatEpochSummary({ epoch: 3, train: { loss: 0.412, accuracy: 0.852 }, test: { loss: 0.38, accuracy: 0.86 },
 *   samplesPerSecond: 412, dataWait: 0.03, seconds: 24.1, lr: 1e-3 }, 10);
 * // "epoch 3/10  loss 0.412  acc 85.2%  test loss 0.380  test acc 86.0%  412 img/s  data 3%  24.1 s"
 */
export function formatEpochSummary(m: EpochMetrics, epochs: number, unit = "img"): string {
  const parts = [`epoch ${m.epoch}/${epochs}`];
  for (const [k, v] of Object.entries(m.train)) parts.push(`${label(k)} ${formatMetric(label(k), v)}`);
  if (m.test)
    for (const [k, v] of Object.entries(m.test)) parts.push(`test ${label(k)} ${formatMetric(label(k), v)}`);
  parts.push(`${formatRate(m.samplesPerSecond)} ${unit}/s`);
  parts.push(`data ${Math.round(m.dataWait * 100)}%`);
  parts.push(formatDuration(m.seconds));
  return parts.join("  ");
}

/** The state of an epoch in progress, what a progress line shows. */
export interface ProgressState {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  /** Running means over the epoch so far. */
  metrics: Record<string, number>;
  samplesPerSecond: number;
  /** Seconds since this epoch (or its resumed part) started. */
  elapsed: number;
  /** Batches done since `elapsed` started counting (less than `batch` after a resume). */
  batchesTimed: number;
}

/**
 * The live line: `epoch 2/8 [=====>      ] 37/78  loss 0.512  acc 81.3%  402 img/s  ETA 10.2 s`.
 *
 * @example
 * formatProgressLine({ epoch: 2, epochs: 8, batch: 39, batches: 78, metrics: { loss: 0.5 },
 *   samplesPerSecond: 400, elapsed: 10, batchesTimed: 39 }); // "... 39/78  loss 0.500  400 img/s  ETA 10.0 s"
 */
export function formatProgressLine(s: ProgressState, unit = "img", barWidth = 24): string {
  const parts = [
    `epoch ${s.epoch}/${s.epochs} ${progressBar(s.batches > 0 ? s.batch / s.batches : 1, barWidth)} ${s.batch}/${s.batches}`,
  ];
  for (const [k, v] of Object.entries(s.metrics)) parts.push(`${label(k)} ${formatMetric(label(k), v)}`);
  parts.push(`${formatRate(s.samplesPerSecond)} ${unit}/s`);
  parts.push(`ETA ${formatDuration(eta(s.batchesTimed, s.elapsed, s.batches - s.batch))}`);
  return parts.join("  ");
}

/**
 * Prints progress lines: on a TTY one line rewritten in place (at most ~10 times a second), otherwise
 * a plain line each time another tenth of the epoch is done.
 *
 * @example
 * const p = new ProgressPrinter((s) => process.stdout.write(s), process.stdout.isTTY === true);
 * p.update(state); p.done("epoch 1/8  loss 0.6 ...");
 */
export class ProgressPrinter {
  private lastDraw = 0;
  private lastTenth = -1;
  private drawn = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly isTTY: boolean,
    private readonly unit = "img",
  ) {}

  /** Shows the state of the epoch after a batch. */
  update(s: ProgressState): void {
    if (this.isTTY) {
      const now = performance.now();
      if (s.batch < s.batches && now - this.lastDraw < 100) return;
      this.lastDraw = now;
      this.write(`\r${formatProgressLine(s, this.unit)}\x1b[K`);
      this.drawn = true;
      return;
    }
    const tenth = Math.floor((10 * s.batch) / Math.max(1, s.batches));
    if (tenth === 0 || tenth === this.lastTenth || s.batch === s.batches) return;
    this.lastTenth = tenth;
    this.write(`${formatProgressLine(s, this.unit)}\n`);
  }

  /** Ends the epoch's live line and prints `line` (the summary). */
  done(line: string): void {
    if (this.isTTY && this.drawn) this.write("\r\x1b[K");
    this.drawn = false;
    this.lastTenth = -1;
    this.write(`${line}\n`);
  }

  /** Ends a live line without a summary (before an interruption message). */
  clear(): void {
    if (this.isTTY && this.drawn) this.write("\r\x1b[K");
    this.drawn = false;
  }
}
