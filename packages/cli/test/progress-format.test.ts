/** The progress and summary lines: durations, ETA, rates, bars, and when plain lines are printed. */
import { describe, expect, it } from "vitest";
import {
  eta,
  formatDuration,
  formatEpochSummary,
  formatMetric,
  formatProgressLine,
  formatRate,
  ProgressPrinter,
  progressBar,
} from "../src/progress.js";

describe("formatting", () => {
  it("durations switch from seconds to minutes to hours", () => {
    expect(formatDuration(24.08)).toBe("24.1 s");
    expect(formatDuration(59.94)).toBe("59.9 s");
    expect(formatDuration(187)).toBe("3 m 07 s");
    expect(formatDuration(3725)).toBe("1 h 02 m");
    expect(formatDuration(Number.NaN)).toBe("?");
  });

  it("ETA is the remaining work at the rate seen so far, unknown before any work", () => {
    expect(eta(10, 5, 30)).toBe(15);
    expect(eta(39, 10, 39)).toBe(10);
    expect(Number.isNaN(eta(0, 0, 10))).toBe(true);
  });

  it("rates keep three significant figures", () => {
    expect(formatRate(412.3)).toBe("412");
    expect(formatRate(41.23)).toBe("41.2");
    expect(formatRate(3.2049)).toBe("3.20");
    expect(formatRate(0.4123)).toBe("0.412");
  });

  it("bars fill in proportion and are full at the end", () => {
    expect(progressBar(0, 10)).toBe("[>         ]");
    expect(progressBar(0.5, 10)).toBe("[=====>    ]");
    expect(progressBar(1, 10)).toBe("[==========]");
    expect(progressBar(2, 4)).toBe("[====]");
  });

  it("accuracies print as percentages, losses with three decimals", () => {
    expect(formatMetric("acc", 0.8523)).toBe("85.2%");
    expect(formatMetric("loss", 0.41234)).toBe("0.412");
    expect(formatMetric("loss", 2.5e-5)).toBe("2.50e-5");
  });

  it("the epoch summary reads like the issue's example", () => {
    const line = formatEpochSummary(
      {
        epoch: 3,
        train: { loss: 0.412, accuracy: 0.852 },
        test: { loss: 0.38, accuracy: 0.86 },
        samplesPerSecond: 412,
        dataWait: 0.03,
        seconds: 24.1,
        lr: 1e-3,
      },
      10,
    );
    expect(line).toBe(
      "epoch 3/10  loss 0.412  acc 85.2%  test loss 0.380  test acc 86.0%  412 img/s  data 3%  24.1 s",
    );
  });

  it("the progress line shows batch, metrics, rate and ETA", () => {
    const line = formatProgressLine(
      {
        epoch: 2,
        epochs: 8,
        batch: 39,
        batches: 78,
        metrics: { loss: 0.5, accuracy: 0.81 },
        samplesPerSecond: 400,
        elapsed: 10,
        batchesTimed: 39,
      },
      "img",
      10,
    );
    expect(line).toBe("epoch 2/8 [=====>    ] 39/78  loss 0.500  acc 81.0%  400 img/s  ETA 10.0 s");
  });
});

describe("ProgressPrinter", () => {
  const state = (batch: number) => ({
    epoch: 1,
    epochs: 1,
    batch,
    batches: 100,
    metrics: { loss: 1 },
    samplesPerSecond: 10,
    elapsed: batch,
    batchesTimed: batch,
  });

  it("without a TTY prints a plain line each tenth of an epoch, then the summary", () => {
    const out: string[] = [];
    const p = new ProgressPrinter((t) => out.push(t), false);
    for (let b = 1; b <= 100; b++) p.update(state(b));
    p.done("summary");
    expect(out).toHaveLength(10); // tenths 1..9 and the summary
    expect(out.every((l) => l.endsWith("\n") && !l.includes("\r"))).toBe(true);
    expect(out[0]).toContain(" 10/100 ");
    expect(out[9]).toBe("summary\n");
  });

  it("on a TTY rewrites one line with \\r and clears it before the summary", () => {
    const out: string[] = [];
    const p = new ProgressPrinter((t) => out.push(t), true);
    p.update(state(1));
    p.update(state(100));
    p.done("summary");
    expect(out[0]?.startsWith("\r")).toBe(true);
    expect(out.join("")).not.toContain("\n epoch");
    expect(out[out.length - 1]).toBe("summary\n");
    expect(out[out.length - 2]).toBe("\r\x1b[K");
  });
});
