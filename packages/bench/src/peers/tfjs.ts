/**
 * TensorFlow.js peers. `tfjs-cpu` (pure JavaScript) is the peer to beat: what a Node user without
 * native binaries gets today. `tfjs-wasm` (XNNPACK, SIMD, single thread in Node) shows where
 * compiled kernels stand. Both run in production mode (no debug checks, no console nag).
 * Convolution uses tfjs's native NHWC/HWIO layout (same FLOPs); layer norm is the composite a tfjs
 * user writes, since tfjs-core has no layer-norm op.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { type Inputs, type PreparedCase, type Runner, Unsupported } from "../runner.js";
import type { Workload } from "../workloads.js";

const DESCRIPTIONS = {
  cpu: "tfjs-backend-cpu (pure JS, single thread)",
  wasm: "tfjs-backend-wasm (XNNPACK, SIMD, single thread in Node)",
};

/** A runner for tfjs backend `backend`, named `tfjs-<backend>`; it activates its backend before each case. */
export async function tfjsRunner(backend: "cpu" | "wasm"): Promise<Runner> {
  tf.enableProdMode();
  const activate = async () => {
    if (tf.getBackend() !== backend && !(await tf.setBackend(backend))) {
      throw new Error(`tfjs: backend '${backend}' failed to initialise`);
    }
  };
  await activate();
  return {
    name: `tfjs-${backend}`,
    kind: "peer",
    description: `@tensorflow/tfjs-core ${tf.version_core} with ${DESCRIPTIONS[backend]}`,
    fused: [],
    activate,
    liveTensors: () => tf.memory().numTensors,
    prepare(w: Workload, init?: Inputs): PreparedCase {
      const inputs: tf.Tensor[] = [];
      /** Input `key` (PyTorch layout), permuted to tfjs's layout by `perm`. */
      const input = (key: string, perm?: number[]) => {
        const shape = w.shapes[key]!;
        const data = init?.[key];
        const t = tf.tidy(() => {
          const x = data ? tf.tensor(data, shape, "float32") : tf.randomNormal(shape, 0, 1, "float32", 1);
          return perm ? tf.transpose(x, perm) : x;
        });
        inputs.push(t);
        return t;
      };
      /** Output back in PyTorch layout. */
      let toTorch: (y: tf.Tensor) => tf.Tensor = (y) => y;
      let fn: () => tf.Tensor;
      switch (w.op) {
        case "matmul": {
          const a = input("a");
          const b = input("b");
          fn = () => tf.matMul(a, b);
          break;
        }
        case "softmax": {
          const x = input("x");
          fn = () => tf.softmax(x, -1);
          break;
        }
        case "gelu": {
          // tfjs-core has no GELU op: the exact form a tfjs user writes, x·Φ(x) = x·(1 + erf(x/√2))/2.
          const x = input("x");
          fn = () => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
          break;
        }
        case "attention": {
          // No fused attention in tfjs: matMul, softmax, matMul on [B·H, S, D].
          const q = input("q");
          const k = input("k");
          const v = input("v");
          const scale = 1 / Math.sqrt(w.shapes.q!.at(-1)!);
          fn = () => tf.matMul(tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale), -1), v);
          break;
        }
        case "layerNorm": {
          const x = input("x");
          const weight = input("weight");
          const bias = input("bias");
          fn = () => {
            const { mean, variance } = tf.moments(x, -1, true);
            return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), weight), bias);
          };
          break;
        }
        case "conv2d": {
          const x = input("x", [0, 2, 3, 1]); // NCHW → NHWC
          const filter = input("w", [2, 3, 1, 0]); // OIHW → HWIO
          const p = w.padding ?? 0;
          const pad: [[number, number], [number, number], [number, number], [number, number]] = [
            [0, 0],
            [p, p],
            [p, p],
            [0, 0],
          ];
          fn = () => tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 1, pad);
          toTorch = (y) => tf.transpose(y, [0, 3, 1, 2]);
          break;
        }
        case "mlpGrad": {
          // tfjs-core alone registers no gradient functions (tf.grads needs the whole @tensorflow/tfjs
          // package), so this peer backpropagates by hand: the same matmuls without a tape's overhead.
          const x = input("x");
          const w1 = input("w1");
          const w2 = input("w2");
          fn = () => {
            const z = tf.matMul(x, w1, false, true); // [n, hidden]
            const h = tf.relu(z);
            const y = tf.matMul(h, w2, false, true); // [n, d]
            const dy = tf.mul(y, 2 / y.size);
            const dw2 = tf.matMul(dy, h, true, false); // [d, hidden], as the gradient of w2 is computed
            dw2.dispose();
            const dz = tf.mul(tf.matMul(dy, w2), tf.step(z)); // [n, hidden]
            return tf.matMul(dz, x, true, false); // [hidden, d]
          };
          break;
        }
        case "blockGrad":
          // Backpropagating a whole transformer block by hand is not a fair peer to write here, and
          // tfjs-core alone registers no gradients for tf.grads (see mlpGrad).
          throw new Unsupported("tfjs: the transformer block's backward needs tfjs's gradient registry");
        default:
          throw new Unsupported(`tfjs: no mapping for op '${(w as Workload).op}'`);
      }
      return {
        async run() {
          const out = tf.tidy(fn);
          await out.data();
          out.dispose();
        },
        async output() {
          const out = tf.tidy(() => toTorch(fn()));
          try {
            return Float32Array.from(await out.data());
          } finally {
            out.dispose();
          }
        },
        dispose() {
          tf.dispose(inputs);
        },
      };
    },
  };
}
