/**
 * Batches from a dataset: seeded shuffle, drop-last, resume mid-epoch, async prefetch, and loading
 * in worker threads. Which samples make batch k of epoch e, and the random stream each sample
 * draws from, depend only on (seed, e, k): never on timing, prefetch depth or the thread that
 * loads it. That is what lets `--resume` continue an interrupted run bit for bit.
 */

import { Worker } from "node:worker_threads";
import type { Tensor } from "@tessera/core";
import { defaultCollate } from "./collate.js";
import { dataModuleUrl, workerSpecOf } from "./dataset.js";
import { DataError } from "./errors.js";
import { Rng } from "./rng.js";
import type { Dataset, WorkerSpec } from "./types.js";
import type { SerializedError, WorkerInit, WorkerReply, WorkerRequest } from "./worker.js";

/** DataLoader options; every one has a default. */
export interface DataLoaderOptions<S, B> {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Reorder the samples every epoch with `Rng.derive(seed, epoch).permutation(n)` (default false). */
  shuffle?: boolean;
  /** Seed of the shuffle and of each sample's augmentation stream (default 0). */
  seed?: number;
  /** Leave out the last batch when it is short (default false). */
  dropLast?: boolean;
  /** Samples → batch, on the main thread (default `defaultCollate`). */
  collate?: (samples: S[]) => B;
  /** Batches loading ahead of the one the consumer holds (default 2; 0 loads on demand). */
  prefetch?: number;
  /** Worker threads that load samples (default 0: the main thread, between the consumer's awaits). */
  workers?: number;
}

/** Where an iteration starts. */
export interface IterateOptions {
  /** The epoch: picks the shuffle order and the augmentation streams (default 0). */
  epoch?: number;
  /** Skip the first batches of the epoch (resume mid-epoch; default 0). */
  startBatch?: number;
}

/** Main-thread loading gives the event loop a turn after this many milliseconds of `get` calls. */
const MAIN_THREAD_SLICE_MS = 8;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function checkCount(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`DataLoader: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
  return v;
}

function reviveError(e: SerializedError): Error {
  const err = e.name === "DataError" ? new DataError(e.message) : new Error(e.message);
  if (e.name !== "DataError") err.name = e.name;
  // DataError put the path into the message on the worker's side already; keep the field too.
  if (e.path !== undefined) (err as { path?: string }).path = e.path;
  if (e.stack !== undefined) err.stack = `${e.stack}\n    (in a DataLoader worker thread)`;
  return err;
}

interface Slot {
  worker: Worker;
  pending: number;
}

interface Request {
  slot: Slot;
  resolve: (samples: unknown[]) => void;
  reject: (e: Error) => void;
}

/** Worker threads that rebuild the dataset from its spec and load chunks of batches on request. */
class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly requests = new Map<number, Request>();
  private nextId = 1;
  private failure: Error | undefined;
  private stopping = false;

  constructor(count: number, spec: WorkerSpec) {
    const url = new URL(dataModuleUrl("worker.js"));
    for (let w = 0; w < count; w++) {
      const worker = new Worker(url, { workerData: { spec } satisfies WorkerInit });
      const slot: Slot = { worker, pending: 0 };
      // An idle worker must not keep the process alive; a busy one must (someone awaits it).
      worker.unref();
      worker.on("message", (reply: WorkerReply) => this.onReply(reply));
      worker.on("error", (e) => this.fail(e instanceof Error ? e : new Error(String(e))));
      worker.on("exit", (code) => {
        if (!this.stopping) this.fail(new DataError(`a DataLoader worker thread exited with code ${code}`));
      });
      this.slots.push(slot);
    }
  }

  /** Loads `indices` split into one contiguous chunk per worker, each to the least busy one. */
  async load(indices: Int32Array, seed: number, epoch: number): Promise<unknown[]> {
    const chunks = Math.min(this.slots.length, indices.length);
    const size = Math.ceil(indices.length / chunks);
    const parts: Promise<unknown[]>[] = [];
    for (let start = 0; start < indices.length; start += size) {
      parts.push(this.request(indices.slice(start, start + size), seed, epoch));
    }
    const loaded = await Promise.all(parts);
    return loaded.length === 1 ? (loaded[0] as unknown[]) : loaded.flat();
  }

  private request(indices: Int32Array, seed: number, epoch: number): Promise<unknown[]> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    let slot = this.slots[0] as Slot;
    for (const s of this.slots) if (s.pending < slot.pending) slot = s;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.requests.set(id, { slot, resolve, reject });
      if (slot.pending++ === 0) slot.worker.ref();
      slot.worker.postMessage({ id, indices, seed, epoch } satisfies WorkerRequest);
    });
  }

  private onReply(reply: WorkerReply): void {
    const req = this.requests.get(reply.id);
    if (req === undefined) return;
    this.requests.delete(reply.id);
    if (--req.slot.pending === 0) req.slot.worker.unref();
    if ("error" in reply) req.reject(reviveError(reply.error));
    else req.resolve(reply.samples);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const [id, req] of this.requests) {
      this.requests.delete(id);
      req.reject(e);
    }
  }

  async terminate(): Promise<void> {
    this.stopping = true;
    this.fail(
      new DataError("the DataLoader's worker threads were stopped (close() or the loop ended early)"),
    );
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/**
 * Batches of a dataset, in an order fixed by the seed and epoch (PyTorch's `DataLoader`). Sample
 * `i` of epoch `e` is `dataset.get(i, Rng.derive(seed, e, i))`; batches come out in order and are
 * collated on the main thread (tensors on the current backend). While the consumer works on a
 * batch, the next `prefetch` load: in `workers` threads, or on the main thread between its awaits.
 *
 * @example
 * import { DataLoader, IdxImageDataset } from "@tessera/data";
 * const train = await IdxImageDataset.load({ split: "train" });
 * const loader = new DataLoader(train, { batchSize: 128, shuffle: true, seed: 0, workers: 2 });
 * for (let epoch = 0; epoch < 3; epoch++) {
 *   for await (const { image, label } of loader.iterate({ epoch })) {
 *     // image: float32 [128,1,28,28], label: int32 [128]; dispose them (or use tidy) when done
 *     image.dispose();
 *     label.dispose();
 *   }
 * }
 * await loader.close();
 */
export class DataLoader<S, B = Record<string, Tensor>> implements AsyncIterable<B> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly workers: number;
  private readonly collate: (samples: S[]) => B;
  private readonly spec: WorkerSpec | undefined;
  private pool: WorkerPool | undefined;
  private active = 0;
  private nextEpoch = 0;
  private closed = false;

  constructor(
    readonly dataset: Dataset<S>,
    opts: DataLoaderOptions<S, B> = {},
  ) {
    this.batchSize = checkCount("batchSize", opts.batchSize ?? 1, 1);
    this.shuffle = opts.shuffle ?? false;
    this.seed = opts.seed ?? 0;
    if (!Number.isInteger(this.seed))
      throw new RangeError(`DataLoader: seed must be an integer, got ${this.seed}`);
    this.dropLast = opts.dropLast ?? false;
    this.prefetch = checkCount("prefetch", opts.prefetch ?? 2, 0);
    this.workers = checkCount("workers", opts.workers ?? 0, 0);
    this.collate = opts.collate ?? (defaultCollate as unknown as (samples: S[]) => B);
    // Up front, so a dataset that cannot go to workers fails where the loader is made.
    this.spec = this.workers > 0 ? workerSpecOf(dataset) : undefined;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The dataset indices of every batch of `epoch`, in order (deterministic in seed and epoch). */
  batchIndices(epoch: number): Int32Array[] {
    checkCount("epoch", epoch, 0);
    const n = this.dataset.length;
    let order: Int32Array;
    if (this.shuffle) order = Rng.derive(this.seed, epoch).permutation(n);
    else {
      order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
    }
    const out: Int32Array[] = [];
    for (let b = 0; b < this.length; b++) out.push(order.slice(b * this.batchSize, (b + 1) * this.batchSize));
    return out;
  }

  /**
   * The batches of one epoch from `startBatch` on. Breaking out of the loop stops the loading
   * (and the worker threads; the next iteration starts fresh ones).
   */
  iterate(opts: IterateOptions = {}): AsyncIterable<B> {
    const epoch = checkCount("epoch", opts.epoch ?? 0, 0);
    const startBatch = checkCount("startBatch", opts.startBatch ?? 0, 0);
    if (startBatch > this.length) {
      throw new RangeError(`DataLoader: startBatch ${startBatch} is past the epoch's ${this.length} batches`);
    }
    return { [Symbol.asyncIterator]: () => this.run(epoch, startBatch) };
  }

  /** Epoch 0 the first time, then 1, 2, … on each new `for await`. */
  [Symbol.asyncIterator](): AsyncIterator<B> {
    return this.run(this.nextEpoch++, 0);
  }

  /** Stops the worker threads. Safe to call twice; the loader cannot iterate afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.stopPool();
  }

  private async stopPool(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.terminate();
  }

  private loadBatch(indices: Int32Array, epoch: number): Promise<S[]> {
    if (this.spec === undefined) return this.loadOnMainThread(indices, epoch);
    this.pool ??= new WorkerPool(this.workers, this.spec);
    return this.pool.load(indices, this.seed, epoch) as Promise<S[]>;
  }

  private async loadOnMainThread(indices: Int32Array, epoch: number): Promise<S[]> {
    // Start on a later turn: the consumer gets its batch first, loading fills the gaps after.
    await nextTurn();
    const samples: S[] = new Array(indices.length);
    let waiting: Promise<void>[] | undefined;
    let sliceStart = performance.now();
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k] as number;
      const s = this.dataset.get(i, Rng.derive(this.seed, epoch, i));
      if (s instanceof Promise) {
        waiting ??= [];
        waiting.push(
          s.then((v) => {
            samples[k] = v;
          }),
        );
      } else samples[k] = s;
      if (performance.now() - sliceStart > MAIN_THREAD_SLICE_MS) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
    if (waiting !== undefined) await Promise.all(waiting);
    return samples;
  }

  private async *run(epoch: number, startBatch: number): AsyncGenerator<B> {
    if (this.closed) throw new Error("DataLoader: iterated after close(); make a new DataLoader");
    const batches = this.batchIndices(epoch);
    const queue: Promise<S[]>[] = [];
    let next = startBatch;
    const launch = (): void => {
      const p = this.loadBatch(batches[next++] as Int32Array, epoch);
      // Rejections surface when the consumer reaches that batch; until then they are not unhandled.
      p.catch(() => {});
      queue.push(p);
    };
    let finished = false;
    this.active++;
    try {
      while (next < batches.length || queue.length > 0) {
        while (queue.length < Math.max(1, this.prefetch) && next < batches.length) launch();
        const samples = await (queue.shift() as Promise<S[]>);
        // Queue the next loads before handing over this batch, so they run while it is consumed.
        while (queue.length < this.prefetch && next < batches.length) launch();
        yield this.collate(samples);
      }
      finished = true;
    } finally {
      this.active--;
      // Ended early (break or error): drop what is loading ahead rather than keep threads busy.
      if (!finished && this.active === 0) await this.stopPool();
    }
  }
}
