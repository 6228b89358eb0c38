/** Timing statistics. The median is what we report: it ignores the GC pause or scheduler hiccup a mean absorbs. */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Timing {
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Every timed run, in order, for anyone who wants another statistic. */
  samplesMs: number[];
}

export function summarize(samplesMs: readonly number[]): Timing {
  return {
    runs: samplesMs.length,
    medianMs: median(samplesMs),
    minMs: Math.min(...samplesMs),
    maxMs: Math.max(...samplesMs),
    samplesMs: [...samplesMs],
  };
}

/** GFLOP/s from a FLOP count and milliseconds. */
export function gflops(flops: number, ms: number): number {
  return flops / ms / 1e6;
}

/** GB/s (1e9 bytes per second) from a byte count and milliseconds. */
export function gbps(bytes: number, ms: number): number {
  return bytes / ms / 1e6;
}
