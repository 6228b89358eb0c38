/** What the harness needs from anything it times: a Tessera backend or a peer library. */
import type { Workload } from "./workloads.js";

/** One workload with its inputs allocated on one runner. */
export interface PreparedCase {
  /**
   * Computes the op once and waits until it is complete (Tessera: `backend.synchronize()`; tfjs:
   * `await data()`, its only completion wait), then frees the output.
   */
  run(): Promise<void>;
  /** Computes the op once and returns the output as float32 in PyTorch layout (for cross-checks). */
  output(): Promise<Float32Array>;
  /** Frees the inputs. */
  dispose(): void;
}

/** Input values in PyTorch layout, keyed like `Workload.shapes`; absent: random normal inputs. */
export type Inputs = Record<string, Float32Array>;

export interface Runner {
  readonly name: string;
  /** 'tessera' for a registered backend, 'peer' for another library we compare against. */
  readonly kind: "tessera" | "peer";
  readonly description: string;
  /** Fused kernels the backend declares (empty for peers: not applicable). */
  readonly fused: readonly string[];
  /** Threads the runner computes with, when it controls that (the native backend's pool size). */
  readonly threads?: number;
  /** Makes this runner current before a case (a library with one global backend switches here). */
  activate?(): Promise<void>;
  /** Undoes what `activate` changed that others share (e.g. restores the thread-pool size); after every case. */
  deactivate?(): void;
  /** Allocates inputs for `w`; throws `Unsupported` when the runner has no such op. */
  prepare(w: Workload, inputs?: Inputs): PreparedCase;
  /** Live tensors owned by this runner, to check that a case frees what it allocates. */
  liveTensors(): number;
}

/** Thrown by `prepare` when a runner cannot run a workload at all; reported, not counted as a failure. */
export class Unsupported extends Error {
  override readonly name = "Unsupported";
}
