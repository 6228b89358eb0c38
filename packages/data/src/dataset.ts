/**
 * Dataset combinators (PyTorch's `Subset`, `ConcatDataset`, `random_split`), a mapped view and an
 * in-memory dataset, plus how a worker thread rebuilds any of them from a `WorkerSpec`.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DataError } from "./errors.js";
import { Rng } from "./rng.js";
import type { Dataset, WorkerShareable, WorkerSpec } from "./types.js";

/**
 * The URL of a file of @tessera/data's build (`dist/`): beside this module when it runs from
 * `dist/`, `../dist/` when it runs from `src/` (under vitest). Worker threads need the build: they
 * load plain JavaScript. Datasets of this package use it as their `WorkerSpec.module`.
 *
 * @example
 * import { dataModuleUrl } from "@tessera/data";
 * const worker = new URL(dataModuleUrl("worker.js")); // file:///…/packages/data/dist/worker.js
 */
export function dataModuleUrl(file = "index.js"): string {
  const beside = new URL(`./${file}`, import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside.href;
  const built = new URL(`../dist/${file}`, import.meta.url);
  if (existsSync(fileURLToPath(built))) return built.href;
  throw new DataError(
    `@tessera/data is not built (worker threads load its JavaScript build); run 'cd packages/data && npx tsup' (or 'pnpm build')`,
    fileURLToPath(built),
  );
}

/**
 * Rebuilds a dataset from its `WorkerSpec`: imports `spec.module` and calls `spec.factory(spec.args)`
 * (a dotted name such as `"IdxImageDataset.fromWorkerArgs"` calls a static method). What a worker
 * thread runs; also handy to check a custom dataset's spec on the main thread.
 *
 * @example
 * import { datasetFromSpec, IdxImageDataset } from "@tessera/data";
 * const train = await IdxImageDataset.load({ split: "train", limit: 100 });
 * const copy = await datasetFromSpec(train.workerSpec()); // an equal dataset
 */
export async function datasetFromSpec<T = unknown>(spec: WorkerSpec): Promise<Dataset<T>> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(spec.module)) as Record<string, unknown>;
  } catch (e) {
    throw new DataError(
      `cannot import the dataset module for a worker thread (${(e as Error).message}); WorkerSpec.module must be an absolute file URL or a package name`,
      spec.module,
      { cause: e },
    );
  }
  let owner: unknown;
  let fn: unknown = mod;
  for (const part of spec.factory.split(".")) {
    owner = fn;
    fn = fn === null || fn === undefined ? undefined : (fn as Record<string, unknown>)[part];
  }
  if (typeof fn !== "function") {
    throw new DataError(
      `has no export '${spec.factory}' to rebuild the dataset with (WorkerSpec.factory names an exported function or Class.staticMethod)`,
      spec.module,
    );
  }
  const dataset = (await (fn as (args: unknown) => unknown).call(owner, spec.args)) as Dataset<T>;
  if (dataset === null || typeof dataset !== "object" || typeof dataset.get !== "function") {
    throw new DataError(
      `${spec.factory}(args) did not return a dataset (an object with get and length)`,
      spec.module,
    );
  }
  return dataset;
}

/** The spec of a dataset, or a DataError saying how to make it shareable. */
export function workerSpecOf(dataset: Dataset<unknown>, what = "the dataset"): WorkerSpec {
  const shareable = dataset as Partial<WorkerShareable>;
  if (typeof shareable.workerSpec !== "function") {
    const name = (dataset as object).constructor?.name ?? "Object";
    throw new DataError(
      `${what} (${name}) cannot be loaded in worker threads: it has no workerSpec(). Implement WorkerShareable (see docs/data.md, "workers"), or use workers: 0`,
    );
  }
  return shareable.workerSpec();
}

function checkIndex(index: number, length: number, what: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(`${what}: index ${index} is out of range for a dataset of ${length} samples`);
  }
}

/**
 * The samples of `dataset` at `indices`, in that order (PyTorch's `Subset`).
 *
 * @example
 * import { InMemoryDataset, Subset } from "@tessera/data";
 * const evens = new Subset(new InMemoryDataset([10, 11, 12, 13]), [0, 2]);
 * await evens.get(1); // 12
 */
export class Subset<T> implements Dataset<T>, WorkerShareable {
  readonly indices: Int32Array;

  constructor(
    readonly dataset: Dataset<T>,
    indices: ArrayLike<number>,
  ) {
    this.indices = Int32Array.from(indices);
    for (let i = 0; i < this.indices.length; i++) {
      const j = indices[i] as number;
      if (!Number.isInteger(j) || j < 0 || j >= dataset.length) {
        throw new RangeError(
          `Subset: indices[${i}] = ${j} is out of range for a dataset of ${dataset.length} samples`,
        );
      }
    }
  }

  get length(): number {
    return this.indices.length;
  }

  get(index: number, rng?: Rng): T | Promise<T> {
    checkIndex(index, this.indices.length, "Subset.get");
    return this.dataset.get(this.indices[index] as number, rng);
  }

  workerSpec(): WorkerSpec {
    return {
      module: dataModuleUrl(),
      factory: "Subset.fromWorkerArgs",
      args: { dataset: workerSpecOf(this.dataset, "the dataset inside a Subset"), indices: this.indices },
    };
  }

  /** Rebuilds a Subset in a worker thread (the factory of its `workerSpec`). */
  static async fromWorkerArgs<T>(args: { dataset: WorkerSpec; indices: Int32Array }): Promise<Subset<T>> {
    return new Subset(await datasetFromSpec<T>(args.dataset), args.indices);
  }
}

/**
 * Datasets one after another (PyTorch's `ConcatDataset`).
 *
 * @example
 * import { ConcatDataset, InMemoryDataset } from "@tessera/data";
 * const both = new ConcatDataset([new InMemoryDataset(["a", "b"]), new InMemoryDataset(["c"])]);
 * both.length; // 3
 * await both.get(2); // "c"
 */
export class ConcatDataset<T> implements Dataset<T>, WorkerShareable {
  readonly datasets: readonly Dataset<T>[];
  /** Cumulative lengths: dataset k holds indices [offsets[k], offsets[k+1]). */
  private readonly offsets: number[];

  constructor(datasets: readonly Dataset<T>[]) {
    if (datasets.length === 0) throw new RangeError("ConcatDataset: needs at least one dataset");
    this.datasets = [...datasets];
    this.offsets = [0];
    for (const d of datasets) this.offsets.push((this.offsets.at(-1) as number) + d.length);
  }

  get length(): number {
    return this.offsets.at(-1) as number;
  }

  get(index: number, rng?: Rng): T | Promise<T> {
    checkIndex(index, this.length, "ConcatDataset.get");
    // Binary search for the dataset holding `index` (the last offset ≤ index with a non-empty range).
    let lo = 0;
    let hi = this.datasets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.offsets[mid] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    return (this.datasets[lo] as Dataset<T>).get(index - (this.offsets[lo] as number), rng);
  }

  workerSpec(): WorkerSpec {
    return {
      module: dataModuleUrl(),
      factory: "ConcatDataset.fromWorkerArgs",
      args: {
        datasets: this.datasets.map((d, i) => workerSpecOf(d, `dataset ${i} of a ConcatDataset`)),
      },
    };
  }

  /** Rebuilds a ConcatDataset in a worker thread (the factory of its `workerSpec`). */
  static async fromWorkerArgs<T>(args: { datasets: WorkerSpec[] }): Promise<ConcatDataset<T>> {
    return new ConcatDataset(await Promise.all(args.datasets.map((s) => datasetFromSpec<T>(s))));
  }
}

/**
 * Splits `dataset` into non-overlapping random subsets (PyTorch's `random_split`). `lengths` are
 * sample counts summing to the length, or fractions summing to 1 (the remainder of the rounding
 * goes round-robin to the first subsets, as PyTorch does). The same seed gives the same split.
 *
 * @example
 * import { InMemoryDataset, randomSplit } from "@tessera/data";
 * const [train, val] = randomSplit(new InMemoryDataset([...Array(100).keys()]), [0.9, 0.1], 0);
 * train.length; // 90
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: number[], seed: number): Subset<T>[] {
  const n = dataset.length;
  let counts: number[];
  const total = lengths.reduce((a, b) => a + b, 0);
  if (lengths.length === 0 || lengths.some((l) => !(l >= 0))) {
    throw new RangeError(`randomSplit: lengths must be non-negative numbers, got [${lengths.join(", ")}]`);
  }
  if (lengths.every(Number.isInteger) && total === n) {
    counts = lengths;
  } else if (Math.abs(total - 1) < 1e-9) {
    counts = lengths.map((f) => Math.floor(n * f));
    let rest = n - counts.reduce((a, b) => a + b, 0);
    for (let i = 0; rest > 0; i = (i + 1) % counts.length, rest--) counts[i] = (counts[i] as number) + 1;
  } else {
    throw new RangeError(
      `randomSplit: lengths [${lengths.join(", ")}] must be sample counts summing to the dataset's ${n} samples or fractions summing to 1`,
    );
  }
  const perm = new Rng(seed).permutation(n);
  const out: Subset<T>[] = [];
  let start = 0;
  for (const c of counts) {
    out.push(new Subset(dataset, perm.subarray(start, start + c)));
    start += c;
  }
  return out;
}

/**
 * A dataset whose samples are `fn(sample, index, rng)` of another's, computed on access. `fn` is
 * a closure, so a mapped dataset cannot go to worker threads; write a class with `workerSpec()`
 * for that (docs/data.md, "workers").
 *
 * @example
 * import { InMemoryDataset, mapDataset } from "@tessera/data";
 * const squares = mapDataset(new InMemoryDataset([1, 2, 3]), (x) => x * x);
 * await squares.get(2); // 9
 */
export function mapDataset<T, U>(
  dataset: Dataset<T>,
  fn: (sample: T, index: number, rng?: Rng) => U,
): Dataset<U> {
  return {
    get length() {
      return dataset.length;
    },
    get(index: number, rng?: Rng): U | Promise<U> {
      const sample = dataset.get(index, rng);
      return sample instanceof Promise ? sample.then((s) => fn(s, index, rng)) : fn(sample, index, rng);
    },
  };
}

/**
 * Samples held in an array: small data, tests, precomputed features. The main thread has them
 * already, so there is nothing for worker threads to do and it is not WorkerShareable.
 *
 * @example
 * import { DataLoader, InMemoryDataset } from "@tessera/data";
 * const data = new InMemoryDataset([{ x: 1, y: 0 }, { x: 2, y: 1 }]);
 * for await (const batch of new DataLoader(data, { batchSize: 2 })) batch.x.shape; // [2]
 */
export class InMemoryDataset<T> implements Dataset<T> {
  constructor(readonly samples: readonly T[]) {}

  get length(): number {
    return this.samples.length;
  }

  get(index: number): T {
    checkIndex(index, this.samples.length, "InMemoryDataset.get");
    return this.samples[index] as T;
  }
}
