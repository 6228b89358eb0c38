/**
 * The entry of a DataLoader worker thread (built to dist/worker.js). It rebuilds the dataset from
 * the WorkerSpec in `workerData`, then answers each request — sample indices with the seed and
 * epoch — with the loaded samples, moving their typed arrays to the main thread instead of copying.
 * Each sample draws from `Rng.derive(seed, epoch, index)`, exactly as on the main thread, so a
 * batch is the same whichever thread loads it.
 */
import { parentPort, workerData } from "node:worker_threads";
import { datasetFromSpec } from "./dataset.js";
import { Rng } from "./rng.js";
import type { Dataset, WorkerSpec } from "./types.js";

/** What the main thread asks for. */
export interface WorkerRequest {
  id: number;
  indices: Int32Array;
  seed: number;
  epoch: number;
}

/** An error as it crosses the thread boundary (Error subclasses do not survive structured clone). */
export interface SerializedError {
  name: string;
  message: string;
  path?: string;
  stack?: string;
}

/** The answer to request `id`: its samples in order, or the first error. */
export type WorkerReply = { id: number; samples: unknown[] } | { id: number; error: SerializedError };

/** What the DataLoader passes as `workerData`. */
export interface WorkerInit {
  spec: WorkerSpec;
}

function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) {
    const path = (e as { path?: unknown }).path;
    return {
      name: e.name,
      message: e.message,
      ...(typeof path === "string" ? { path } : {}),
      ...(e.stack === undefined ? {} : { stack: e.stack }),
    };
  }
  return { name: "Error", message: String(e) };
}

/**
 * The buffers a reply can move: those a typed array owns whole. A view into a larger buffer (a
 * dataset's own storage) is copied instead, so moving it cannot detach the dataset's data.
 */
function transferables(value: unknown, into: Set<ArrayBuffer>, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 8) return;
  if (ArrayBuffer.isView(value)) {
    const buf = value.buffer;
    if (buf instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === buf.byteLength)
      into.add(buf);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) transferables(v, into, depth + 1);
    return;
  }
  for (const v of Object.values(value)) transferables(v, into, depth + 1);
}

async function serve(): Promise<void> {
  const port = parentPort;
  if (port === null) return;
  const init = workerData as WorkerInit;
  const ready: Promise<Dataset<unknown>> = datasetFromSpec(init.spec);
  // Reported with the first request, so the consumer sees it where it awaits a batch.
  ready.catch(() => {});
  port.on("message", async (req: WorkerRequest) => {
    try {
      const dataset = await ready;
      const samples: unknown[] = new Array(req.indices.length);
      for (let k = 0; k < req.indices.length; k++) {
        const i = req.indices[k] as number;
        const s = dataset.get(i, Rng.derive(req.seed, req.epoch, i));
        samples[k] = s instanceof Promise ? await s : s;
      }
      const transfer = new Set<ArrayBuffer>();
      transferables(samples, transfer);
      port.postMessage({ id: req.id, samples } satisfies WorkerReply, [...transfer]);
    } catch (e) {
      port.postMessage({ id: req.id, error: serializeError(e) } satisfies WorkerReply);
    }
  });
}

void serve();
