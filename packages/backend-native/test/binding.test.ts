/**
 * The binding's own preconditions: every malformed call is a JS exception that names the problem,
 * and the process (and the storage table) stay usable afterwards.
 */
import { describe, expect, it } from "vitest";
import { type Addon, DTYPE_CODES } from "../src/abi.js";
import { loadAddon } from "../src/loader.js";
import { nativeAvailable } from "./native-available.js";

const F32 = DTYPE_CODES.float32;

function views(...vs: number[][]): Float64Array {
  return Float64Array.from([vs.length, ...vs.flat()]);
}
/** A view row: id, dtype, rank, offset, ...shape, ...strides. */
function row(id: number, dtype: number, shape: number[], strides: number[], offset = 0): number[] {
  return [id, dtype, shape.length, offset, ...shape, ...strides];
}

describe.runIf(nativeAvailable)("native binding: malformed calls throw, never crash", () => {
  const addon = loadAddon().addon as Addon;
  const op = (name: string) => addon.info().ops.indexOf(name);
  const none = new Float64Array(0);

  it("storage: bad dtype codes, sizes and ids", () => {
    expect(() => addon.allocate(9, 4)).toThrow(/dtype code/);
    expect(() => addon.allocate(F32, -1)).toThrow(/element count/);
    expect(() => addon.allocate(F32, 1.5)).toThrow(/element count/);
    expect(() => addon.allocate(F32, Number.NaN)).toThrow(/element count/);
    expect(() => addon.allocate(F32, 2 ** 50)).toThrow(/element count/);
    expect(() => (addon.allocate as unknown as (x: string) => number)("float32")).toThrow(/must be a number/);
    expect(() => addon.readSync(123456789, 0, 1)).toThrow(/not allocated/);
    expect(addon.free(123456789)).toBe(false);
  });

  it("upload and read: overruns and mismatched element sizes", () => {
    const id = addon.allocate(F32, 4);
    try {
      expect(() => addon.upload(id, new Float32Array(5), 0)).toThrow(/overrun/);
      expect(() => addon.upload(id, new Float32Array(2), 3)).toThrow(/overrun/);
      expect(() => addon.upload(id, new Float64Array(1), 0)).toThrow(/4-byte elements/);
      expect(() => addon.upload(id, [1, 2] as unknown as Float32Array, 0)).toThrow(/typed array/);
      expect(() => addon.readSync(id, 3, 2)).toThrow(/overrun/);
      expect(() => addon.readSync(id, -1, 1)).toThrow(/read offset/);
      addon.upload(id, Float32Array.from([1, 2, 3, 4]), 0);
      expect([...new Float32Array(addon.readSync(id, 1, 2))]).toEqual([2, 3]);
    } finally {
      addon.free(id);
    }
  });

  it("a freed storage is gone for reads, uploads and kernels", async () => {
    const id = addon.allocate(F32, 4);
    expect(addon.free(id)).toBe(true);
    expect(addon.free(id)).toBe(false);
    expect(() => addon.readSync(id, 0, 1)).toThrow(/not allocated/);
    expect(() => addon.read(id, 0, 1)).toThrow(/not allocated/);
    expect(() => addon.execute(op("fill"), views(row(id, F32, [4], [1])), Float64Array.of(0))).toThrow(
      /not allocated/,
    );
  });

  it("execute: bad op codes and argument types", () => {
    const id = addon.allocate(F32, 4);
    try {
      const v = views(row(id, F32, [4], [1]));
      expect(() => addon.execute(-1, v, none)).toThrow(/op code/);
      expect(() => addon.execute(addon.info().ops.length, v, none)).toThrow(/op code/);
      expect(() =>
        addon.execute(op("fill"), [1, id, 0, 1, 0, 4, 1] as unknown as Float64Array, none),
      ).toThrow(/Float64Array/);
      expect(() => addon.execute(op("fill"), v, new Float32Array(1) as unknown as Float64Array)).toThrow(
        /Float64Array/,
      );
    } finally {
      addon.free(id);
    }
  });

  it("execute: malformed view tables", () => {
    const id = addon.allocate(F32, 4);
    const fill = op("fill");
    const one = Float64Array.of(1);
    try {
      expect(() => addon.execute(fill, Float64Array.of(1, id, F32, 1, 0, 4), one)).toThrow(/truncated/);
      expect(() => addon.execute(fill, Float64Array.of(1, id, F32, 1, 0, 4, 1, 7), one)).toThrow(/trailing/);
      expect(() => addon.execute(fill, views(row(id, F32, [5], [1])), one)).toThrow(/outside its storage/);
      expect(() => addon.execute(fill, views(row(id, F32, [2], [1], 3)), one)).toThrow(/outside its storage/);
      expect(() => addon.execute(fill, views(row(id, F32, [4], [-1])), one)).toThrow(/outside its storage/);
      expect(() => addon.execute(fill, views(row(id, F32, [2, 2], [3, 1])), one)).toThrow(
        /outside its storage/,
      );
      expect(() => addon.execute(fill, views(row(id, DTYPE_CODES.int32, [4], [1])), one)).toThrow(
        /storage is float32/,
      );
      expect(() => addon.execute(fill, views(row(id, F32, [4.5], [1])), one)).toThrow(/not an integer/);
      expect(() => addon.execute(fill, views(row(id, F32, [Number.NaN], [1])), one)).toThrow(/dimension/);
      expect(() => addon.execute(fill, views(row(id, 42, [4], [1])), one)).toThrow(/dtype/);
      expect(() => addon.execute(fill, Float64Array.of(1, id, F32, 17, 0), one)).toThrow(/rank/);
      expect(() => addon.execute(fill, Float64Array.of(1, 0, 0, 1, 0, 4, 1), one)).toThrow(/absent view/);
      // A huge shape whose element count overflows.
      expect(() =>
        addon.execute(fill, views(row(id, F32, [2 ** 30, 2 ** 30, 2 ** 30], [0, 0, 0])), one),
      ).toThrow(/too many elements/);
      // Broadcast (stride 0) views stay inside and are fine; zero-size views may sit anywhere.
      addon.execute(fill, views(row(id, F32, [3, 4], [0, 1])), one);
      addon.execute(fill, views(row(id, F32, [0, 4], [4, 1], 3)), one);
    } finally {
      addon.free(id);
    }
  });

  it("execute: kernels reject wrong view counts, dtypes and shapes", () => {
    const a = addon.allocate(F32, 6);
    const b = addon.allocate(F32, 6);
    const c = addon.allocate(F32, 4);
    const idx = addon.allocate(DTYPE_CODES.int32, 2);
    try {
      // matmul [2,3]x[2,3] (K mismatch), and an output of the wrong shape.
      const mm = op("matmul");
      const va = row(a, F32, [2, 3], [3, 1]);
      const vb = row(b, F32, [2, 3], [3, 1]);
      const vc = row(c, F32, [2, 2], [2, 1]);
      expect(() => addon.execute(mm, views(va, vb, vc), Float64Array.of(0, 0))).toThrow(/matmul/);
      expect(() => addon.execute(mm, views(va, vb), Float64Array.of(0, 1))).toThrow(/views/);
      expect(() => addon.execute(mm, views(va, vb, vc), none)).toThrow(/attribute/);
      addon.execute(mm, views(va, vb, vc), Float64Array.of(0, 1)); // a · bᵀ is [2,2]: fine
      // gather with an index outside the gathered dimension.
      addon.upload(idx, Int32Array.of(0, 7), 0);
      const g = op("gather");
      expect(() =>
        addon.execute(
          g,
          views(row(a, F32, [6], [1]), row(idx, DTYPE_CODES.int32, [2], [1]), row(c, F32, [2], [1])),
          Float64Array.of(0),
        ),
      ).toThrow(/index/);
      // softmax over a dimension the tensor does not have.
      expect(() =>
        addon.execute(
          op("softmax"),
          views(row(a, F32, [2, 3], [3, 1]), row(b, F32, [2, 3], [3, 1])),
          Float64Array.of(5),
        ),
      ).toThrow(/softmax/);
      // unary op index out of range.
      expect(() =>
        addon.execute(op("unary"), views(row(a, F32, [6], [1]), row(b, F32, [6], [1])), Float64Array.of(999)),
      ).toThrow(/unary/);
    } finally {
      for (const id of [a, b, c, idx]) addon.free(id);
    }
  });

  it("native memory is reported to V8 as external memory and released by free", () => {
    // v8External is V8's process-wide total as of the addon's last adjustment. Other external memory
    // (vitest's own buffers, on other threads too) moves it as well, by bytes to kilobytes between two
    // calls, so the checks allow up to 1 MiB beside the 64 MiB; a small allocation first makes the
    // reading current.
    const probe = addon.allocate(F32, 16);
    const baseline = addon.memory();
    const id = addon.allocate(F32, 16 * 1024 * 1024); // 64 MiB
    const during = addon.memory();
    expect(during.bytes - baseline.bytes).toBe(64 * 1024 * 1024);
    expect(during.handles - baseline.handles).toBe(1);
    // V8's external-memory total (what drives its GC heuristics) grew by the allocation.
    expect(during.v8External - baseline.v8External).toBeGreaterThan(63 * 1024 * 1024);
    expect(during.v8External - baseline.v8External).toBeLessThan(65 * 1024 * 1024);
    addon.free(id);
    const after = addon.memory();
    expect([after.handles, after.bytes]).toEqual([baseline.handles, baseline.bytes]);
    // Free takes exactly this allocation back off it.
    expect(during.v8External - after.v8External).toBeGreaterThan(63 * 1024 * 1024);
    expect(during.v8External - after.v8External).toBeLessThan(65 * 1024 * 1024);
    addon.free(probe);
  });

  it("freed large blocks are kept for reuse until emptyCache()", () => {
    addon.emptyCache();
    expect(addon.memory().cachedBytes).toBe(0);
    const a = addon.allocate(F32, 1 << 20); // 4 MiB
    addon.free(a);
    expect(addon.memory().cachedBytes).toBe(4 << 20);
    const b = addon.allocate(F32, 1 << 20); // reuses the block
    expect(addon.memory().cachedBytes).toBe(0);
    addon.free(b);
    const small = addon.allocate(F32, 16); // small blocks go straight back to malloc
    addon.free(small);
    expect(addon.memory().cachedBytes).toBe(4 << 20);
    addon.emptyCache();
    expect(addon.memory().cachedBytes).toBe(0);
  });

  it("an async read completes off the event loop and survives a free issued meanwhile", async () => {
    const n = 1 << 20;
    const id = addon.allocate(F32, n);
    addon.upload(id, new Float32Array(n).fill(3), 0);
    const pending = addon.read(id, 0, n);
    addon.free(id);
    const values = new Float32Array(await pending);
    expect(values.length).toBe(n);
    expect(values[0]).toBe(3);
    expect(values[n - 1]).toBe(3);
  });

  it("thread count: setNumThreads validates and reports the pool size", () => {
    const saved = addon.info().threads;
    try {
      expect(addon.setNumThreads(1)).toBe(1);
      expect(addon.info().threads).toBe(1);
      expect(() => addon.setNumThreads(0)).toThrow(/thread count/);
      expect(() => addon.setNumThreads(2.5)).toThrow(/thread count/);
    } finally {
      addon.setNumThreads(saved);
    }
  });
});
