/**
 * Samples → batch tensors, on the main thread (tensors live on the current backend, which worker
 * threads do not have). One tensor per key, nothing else allocated on the backend.
 */
import { type Tensor, tensor } from "@tessera/core";
import { DataError } from "./errors.js";
import type { FloatImage } from "./types.js";

function isFloatImage(v: unknown): v is FloatImage {
  return (
    typeof v === "object" &&
    v !== null &&
    (v as FloatImage).data instanceof Float32Array &&
    typeof (v as FloatImage).channels === "number" &&
    typeof (v as FloatImage).height === "number" &&
    typeof (v as FloatImage).width === "number"
  );
}

function describe(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of ${v.length > 0 ? describe(v[0]) : "nothing"}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === "object") return `an object with keys ${Object.keys(v).join(", ")}`;
  return `a ${typeof v}`;
}

const fmt = (shape: readonly number[]): string => `[${shape.join(",")}]`;

/** The per-sample shape of one key's value, and how many float32/int32 values it holds. */
function sampleShape(v: unknown, key: string, i: number): number[] {
  if (isFloatImage(v)) {
    const shape = [v.channels, v.height, v.width];
    if (v.data.length !== v.channels * v.height * v.width) {
      throw new DataError(
        `collate: '${key}' of sample ${i} is a FloatImage ${fmt(shape)} with ${v.data.length} values (expected ${v.channels * v.height * v.width})`,
      );
    }
    return shape;
  }
  if (Array.isArray(v)) {
    const first = v[0] as unknown;
    if (!isFloatImage(first))
      throw new TypeError(
        `collate: '${key}' of sample ${i} is ${describe(v)}; only arrays of FloatImage (sequences) are collated`,
      );
    const inner = sampleShape(first, key, i);
    for (let t = 1; t < v.length; t++) {
      const s = sampleShape(v[t], key, i);
      if (fmt(s) !== fmt(inner)) {
        throw new DataError(
          `collate: '${key}' of sample ${i} has frames of shapes ${fmt(inner)} and ${fmt(s)} (frame ${t})`,
        );
      }
    }
    return [v.length, ...inner];
  }
  if (v instanceof Int32Array || v instanceof Float32Array) return [v.length];
  throw new TypeError(
    `collate: '${key}' of sample ${i} is ${describe(v)}; defaultCollate handles FloatImage, FloatImage[], numbers, Int32Array, Float32Array and strings (dropped). Pass a collate function to the DataLoader for anything else`,
  );
}

/**
 * Stacks samples (plain objects) into a batch, key by key: a FloatImage → float32 [B,C,H,W]; a
 * FloatImage[] sequence → [B,T,C,H,W]; integer numbers → int32 [B]; other numbers → float32 [B];
 * Int32Array → int32 [B,n]; Float32Array → float32 [B,n]; strings are dropped (names, paths).
 * Samples whose shapes differ under a key are a DataError naming the key and both shapes.
 *
 * @example
 * import { defaultCollate } from "@tessera/data";
 * const img = { channels: 1, height: 2, width: 2, data: new Float32Array(4) };
 * const batch = defaultCollate([{ image: img, label: 3 }, { image: img, label: 1 }]);
 * batch.image.shape; // [2, 1, 2, 2]
 * batch.label.dtype; // "int32"
 */
export function defaultCollate(samples: object[]): Record<string, Tensor> {
  if (samples.length === 0) throw new RangeError("collate: no samples to make a batch of");
  const first = samples[0] as Record<string, unknown>;
  const b = samples.length;
  const out: Record<string, Tensor> = {};
  try {
    for (const key of Object.keys(first)) {
      const v0 = first[key];
      if (typeof v0 === "string" || v0 === undefined) continue;
      if (typeof v0 === "number") {
        let integer = true;
        for (let i = 0; i < b; i++) {
          const v = (samples[i] as Record<string, unknown>)[key];
          if (typeof v !== "number") {
            throw new DataError(
              `collate: '${key}' is a number in sample 0 and ${describe(v)} in sample ${i}`,
            );
          }
          if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) integer = false;
        }
        const data = integer ? new Int32Array(b) : new Float32Array(b);
        for (let i = 0; i < b; i++) data[i] = (samples[i] as Record<string, number>)[key] as number;
        out[key] = tensor(data, { shape: [b], dtype: integer ? "int32" : "float32" });
        continue;
      }
      const shape = sampleShape(v0, key, 0);
      const size = shape.reduce((a, c) => a * c, 1);
      const isInt = v0 instanceof Int32Array;
      const data = isInt ? new Int32Array(b * size) : new Float32Array(b * size);
      for (let i = 0; i < b; i++) {
        const v = (samples[i] as Record<string, unknown>)[key];
        if (i > 0) {
          const s = sampleShape(v, key, i);
          if (fmt(s) !== fmt(shape) || v instanceof Int32Array !== isInt) {
            throw new DataError(
              `collate: '${key}' has shape ${fmt(shape)} in sample 0 and ${fmt(s)} in sample ${i}${fmt(s) === fmt(shape) ? " (Int32Array and Float32Array mixed)" : ""}; resize or crop to one size (transforms), or pass a collate function`,
            );
          }
        }
        if (Array.isArray(v)) {
          const frame = size / v.length;
          for (let t = 0; t < v.length; t++) data.set((v[t] as FloatImage).data, i * size + t * frame);
        } else if (isFloatImage(v)) {
          data.set(v.data, i * size);
        } else {
          data.set(v as Int32Array | Float32Array, i * size);
        }
      }
      out[key] = tensor(data, { shape: [b, ...shape], dtype: isInt ? "int32" : "float32" });
    }
  } catch (e) {
    // A bad key later in the sample must not leak the tensors of the keys before it.
    for (const t of Object.values(out)) t.dispose();
    throw e;
  }
  return out;
}
