/**
 * Batches from a stream (PyTorch's DataLoader over an `IterableDataset`): no length, no shuffle, no
 * random access; samples are grouped in arrival order and collated on the main thread. The next
 * batch is gathered while the consumer works on the current one.
 */
import { defaultCollate } from "./collate.js";
import { DataError } from "./errors.js";
import type { IterableDataset } from "./types.js";

export interface StreamLoaderOptions<S, B> {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Drop a last batch shorter than `batchSize` (default false). */
  dropLast?: boolean;
  /** Samples → batch (default `defaultCollate`). */
  collate?: (samples: S[]) => B;
}

/**
 * An IterableDataset over any (async) iterable, e.g. a generator reading a log or a socket.
 *
 * @example
 * const ds = iterableDataset(async function* () { for (let i = 0; i < 100; i++) yield { x: i }; });
 */
export function iterableDataset<T>(source: () => Iterable<T> | AsyncIterable<T>): IterableDataset<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = source();
      if (Symbol.asyncIterator in it) return (it as AsyncIterable<T>)[Symbol.asyncIterator]();
      const sync = (it as Iterable<T>)[Symbol.iterator]();
      return { next: () => Promise.resolve(sync.next()) };
    },
  };
}

/**
 * Batches an IterableDataset. Each `for await` starts a fresh pass over the stream.
 *
 * @example
 * const loader = new StreamLoader(iterableDataset(readRecords), { batchSize: 32 });
 * for await (const batch of loader) { … }
 */
export class StreamLoader<S, B = Record<string, import("@tessera/core").Tensor>> {
  readonly batchSize: number;
  readonly dropLast: boolean;
  private readonly collate: (samples: S[]) => B;

  constructor(
    readonly dataset: IterableDataset<S>,
    opts: StreamLoaderOptions<S, B> = {},
  ) {
    const batchSize = opts.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new DataError(`StreamLoader: batchSize must be an integer ≥ 1, got ${batchSize}`);
    this.batchSize = batchSize;
    this.dropLast = opts.dropLast ?? false;
    this.collate = opts.collate ?? ((s: S[]) => defaultCollate(s as object[]) as B);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<B> {
    const source = this.dataset[Symbol.asyncIterator]();
    const gather = async (): Promise<S[]> => {
      const samples: S[] = [];
      while (samples.length < this.batchSize) {
        const r = await source.next();
        if (r.done) break;
        samples.push(r.value);
      }
      return samples;
    };
    try {
      let pending = gather();
      for (;;) {
        const samples = await pending;
        const last = samples.length < this.batchSize;
        if (samples.length === 0 || (last && this.dropLast)) return;
        // Read ahead while the consumer works on this batch.
        pending = last ? Promise.resolve([]) : gather();
        // A rejection of the read-ahead is seen when it is awaited; keep it from being "unhandled" meanwhile.
        pending.catch(() => {});
        yield this.collate(samples);
        if (last) return;
      }
    } finally {
      await source.return?.();
    }
  }
}
