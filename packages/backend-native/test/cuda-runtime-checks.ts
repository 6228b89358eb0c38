/**
 * Checks of the cuda device's runtime that only a GPU can run: transfers, the caching allocator,
 * out-of-memory as an exception, reads that leave the event loop free, and a training loop with a
 * flat tensor count and flat device memory. Used by cuda-runtime.test.ts where a GPU is present and
 * bundled by scripts/gpu for the lent GPU machine (docs/cuda.md).
 */
import assert from "node:assert/strict";
import "@tessera/autograd";
import "@tessera/backend-js";
import { noGrad } from "@tessera/autograd";
import {
  assign,
  type Backend,
  conv2d,
  type DType,
  findBackend,
  memory,
  randn,
  scaledDotProductAttention,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "@tessera/core";
import type { NativeBackend } from "../src/index.js";

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

const MiB = 2 ** 20;

async function check(
  results: CheckResult[],
  name: string,
  fn: () => Promise<string> | string,
): Promise<void> {
  try {
    results.push({ name, ok: true, detail: await fn() });
  } catch (e) {
    results.push({ name, ok: false, detail: (e as Error).stack ?? String(e) });
  }
}

/** Runs every check on backend `name` (a NativeBackend on device cuda) and returns one result each. */
export async function runCudaRuntimeChecks(name = "cuda"): Promise<CheckResult[]> {
  const b = findBackend(name) as Backend & NativeBackend;
  assert.equal(b.device, "cuda");
  const results: CheckResult[] = [];

  await check(results, "round trip js → cuda → js, and an op on cuda", async () => {
    const x = tensor([1, -2, 3.5, 4], { backend: "js" });
    const y = x.to(name);
    const z = y.mul(2).add(1);
    const back = z.to("js");
    assert.deepEqual([...(await back.data())], [3, -3, 8, 9]);
    assert.deepEqual([...(z.dataSync() as Float32Array)], [3, -3, 8, 9]);
    for (const t of [x, y, z, back]) t.dispose();
    return "ok";
  });

  await check(results, "the caching allocator reuses freed blocks; emptyCache returns them", () => {
    b.emptyCache();
    const r0 = b.reservedBytes;
    const a = zeros([4 * MiB], { backend: name }); // 16 MiB
    const r1 = b.reservedBytes;
    assert.ok(r1 >= r0 + 16 * MiB, `reserved ${r0} → ${r1} after a 16 MiB tensor`);
    a.dispose();
    assert.ok(b.cachedBytes >= 16 * MiB, `cached ${b.cachedBytes} after freeing it`);
    const c = zeros([4 * MiB], { backend: name });
    assert.equal(b.reservedBytes, r1, "a second tensor of the same size reuses the block");
    c.dispose();
    b.emptyCache();
    assert.ok(b.reservedBytes <= r0, `reserved ${b.reservedBytes} after emptyCache (was ${r0})`);
    return `reserved ${r0 / MiB} → ${r1 / MiB} → ${b.reservedBytes / MiB} MiB`;
  });

  await check(results, "out of memory is a JS exception and the device stays usable", async () => {
    let message = "";
    try {
      zeros([2 ** 38], { backend: name }).dispose(); // 1 TiB of float32
    } catch (e) {
      message = (e as Error).message;
    }
    assert.match(message, /out of memory/);
    const y = tensor([1, 2, 3], { backend: name }).mul(3);
    assert.deepEqual([...(await y.data())], [3, 6, 9]);
    y.dispose();
    return message.slice(0, 200);
  });

  await check(results, "an async read leaves the event loop free while the GPU works", async () => {
    const a = randn([4096, 4096], { backend: name });
    let y: Tensor = a;
    for (let i = 0; i < 20; i++) {
      const next = y.matmul(a).mul(1 / 64);
      if (y !== a) y.dispose();
      y = next;
    }
    let ticks = 0;
    let done = false;
    const spin = () => {
      if (done) return;
      ticks++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const t0 = performance.now();
    const data = await y.data();
    done = true;
    const ms = performance.now() - t0;
    assert.equal(data.length, 4096 * 4096);
    assert.ok(ticks > 0, `the event loop ran ${ticks} times during a ${ms.toFixed(1)} ms read`);
    a.dispose();
    y.dispose();
    return `${ticks} event-loop turns during a ${ms.toFixed(1)} ms read`;
  });

  await check(results, "a training loop keeps a flat tensor count and flat device memory", async () => {
    const w = randn([256, 256], { backend: name }).mul(0.05);
    w.requiresGrad = true;
    const target = randn([64, 256], { backend: name });
    const x = randn([64, 256], { backend: name });
    const counts: number[] = [];
    const reserved: number[] = [];
    let first = 0;
    let last = 0;
    for (let step = 0; step < 400; step++) {
      const loss = tidy(() => {
        const pred = x.matmul(w).relu();
        const d = pred.sub(target);
        return d.mul(d).mean();
      });
      loss.backward();
      const value = (await loss.data())[0]!;
      if (step === 0) first = value;
      last = value;
      noGrad(() => {
        tidy(() => {
          const g = w.grad!;
          const updated = w.sub(g.mul(0.5));
          assign(w, updated);
        });
      });
      w.grad = null;
      loss.dispose();
      if (step % 100 === 99) {
        counts.push(memory().numTensors);
        reserved.push(b.reservedBytes);
      }
    }
    assert.ok(last < first, `loss ${first} → ${last}`);
    assert.ok(
      counts.every((c) => c === counts[0]),
      `tensor counts at steps 100..400: ${counts.join(", ")}`,
    );
    assert.ok(
      reserved.every((r) => r === reserved[0]),
      `reserved bytes at steps 100..400: ${reserved.join(", ")}`,
    );
    for (const t of [w, target, x]) t.dispose();
    return `loss ${first.toFixed(4)} → ${last.toFixed(4)}; ${counts[0]} live tensors, ${(reserved[0]! / MiB).toFixed(0)} MiB reserved at steps 100–400`;
  });

  await check(results, "synchronize resolves after queued work", async () => {
    const a = randn([2048, 2048], { backend: name });
    const t0 = performance.now();
    const y = a.matmul(a);
    const queued = performance.now() - t0;
    await b.synchronize();
    const total = performance.now() - t0;
    a.dispose();
    y.dispose();
    return `matmul queued in ${queued.toFixed(2)} ms, done after ${total.toFixed(2)} ms`;
  });

  // The conformance suite draws small shapes; these cross the GPU kernels' tile sizes (and their edges)
  // in every dtype, against backend-js on the same (half-rounded) inputs.
  for (const dtype of ["float32", "float16", "bfloat16"] as const) {
    await check(results, `large shapes agree with backend-js in ${dtype}`, () => largeShapes(name, dtype));
  }

  return results;
}

/** ‖a − ref‖² / ‖ref‖² over every element (a, ref: float values of the same length). */
function nmse(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Number(a[i]) - Number(ref[i]);
    num += d * d;
    den += Number(ref[i]) ** 2;
  }
  return num / Math.max(den, 1e-30);
}

/**
 * One rounding of the output dominates: relative 2⁻²⁴ (f32), 2⁻¹¹ (f16), 2⁻⁸ (bf16) per element gives
 * an NMSE near the square over 3 (uniform rounding error); the bounds leave a factor of ~10 above that for
 * f32-accumulation order differences over K ≤ 1000 (f32: 1e-10 allows a relative 1e-5 RMS).
 */
const NMSE_BOUND: Record<string, number> = { float32: 1e-10, float16: 3e-7, bfloat16: 2e-5 };

async function largeShapes(name: string, dtype: DType): Promise<string> {
  const lines: string[] = [];
  const compare = async (what: string, make: (backend: string) => Tensor) => {
    const a = make(name);
    const r = make("js");
    const [av, rv] = [await a.cast("float32").data(), await r.cast("float32").data()];
    const e = nmse(av, rv);
    a.dispose();
    r.dispose();
    lines.push(`${what}: nmse ${e.toExponential(2)}`);
    assert.ok(e <= NMSE_BOUND[dtype]!, `${what} in ${dtype}: nmse ${e} > ${NMSE_BOUND[dtype]}`);
  };
  // Inputs drawn once in float32 on js, rounded to dtype, then copied to each backend.
  const input = (shape: number[], scale = 1) =>
    tidy(() => randn(shape, { backend: "js" }).mul(scale).cast(dtype));
  const on = (t: Tensor, backend: string) => (backend === "js" ? t.mul(1) : t.to(backend));
  const a = input([3, 200, 333], 0.5);
  const b = input([3, 333, 257], 0.5);
  const bt = input([257, 333], 0.5);
  await compare("matmul [3,200,333]·[3,333,257]", (be) => tidy(() => on(a, be).matmul(on(b, be))));
  await compare("matmul [3,200,333]·[257,333]ᵀ", (be) => tidy(() => on(a, be).matmul(on(bt, be).mT)));
  await compare("matmul [200,3·333]ᵀ-view", (be) => tidy(() => on(a, be).transpose(1, 2).matmul(on(a, be))));
  const q = input([2, 4, 300, 64]);
  const k = input([2, 4, 300, 64]);
  const v = input([2, 4, 300, 64]);
  for (const causal of [false, true]) {
    await compare(`attention [2,4,300,64]${causal ? " causal" : ""}`, (be) =>
      tidy(() => scaledDotProductAttention(on(q, be), on(k, be), on(v, be), { isCausal: causal })),
    );
  }
  if (dtype === "float32") {
    const x = input([4, 3, 64, 64]);
    const w = input([96, 3, 16, 16], 0.1);
    await compare("conv2d patch embedding [4,3,64,64] k16 s16", (be) =>
      tidy(() => conv2d(on(x, be), on(w, be), null, { stride: 16 })),
    );
    const w3 = input([32, 3, 3, 3], 0.2);
    await compare("conv2d 3×3 pad 1 [4,3,64,64]→32", (be) =>
      tidy(() => conv2d(on(x, be), on(w3, be), null, { padding: 1 })),
    );
    for (const t of [x, w, w3]) t.dispose();
  }
  for (const t of [a, b, bt, q, k, v]) t.dispose();
  return lines.join("; ");
}
