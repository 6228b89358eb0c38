/**
 * TensorFlow.js's pure-JavaScript CPU backend: the peer to beat, since it is what a Node user
 * without native binaries gets today. Runs in production mode (no debug checks, no console nag).
 * Convolution uses tfjs's native NHWC/HWIO layout (same FLOPs); layer norm is the composite a tfjs
 * user writes, since tfjs-core has no layer-norm op.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { type PreparedCase, type Runner, Unsupported } from "../runner.js";
import type { Workload } from "../workloads.js";

export async function tfjsCpuRunner(): Promise<Runner> {
  tf.enableProdMode();
  await tf.setBackend("cpu");
  await tf.ready();
  return {
    name: "tfjs-cpu",
    kind: "peer",
    description: `@tensorflow/tfjs-core ${tf.version_core} with tfjs-backend-cpu (pure JS, single thread)`,
    fused: [],
    liveTensors: () => tf.memory().numTensors,
    prepare(w: Workload): PreparedCase {
      const inputs: tf.Tensor[] = [];
      const input = (shape: number[]) => {
        const t = tf.randomNormal(shape, 0, 1, "float32", 1);
        inputs.push(t);
        return t;
      };
      let fn: () => tf.Tensor;
      switch (w.op) {
        case "matmul": {
          const a = input(w.shapes.a!);
          const b = input(w.shapes.b!);
          fn = () => tf.matMul(a, b);
          break;
        }
        case "softmax": {
          const x = input(w.shapes.x!);
          fn = () => tf.softmax(x, -1);
          break;
        }
        case "layerNorm": {
          const x = input(w.shapes.x!);
          const weight = input(w.shapes.weight!);
          const bias = input(w.shapes.bias!);
          fn = () => {
            const { mean, variance } = tf.moments(x, -1, true);
            return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), weight), bias);
          };
          break;
        }
        case "conv2d": {
          const [n, c, h, wd] = w.shapes.x!;
          const [o, ci, kh, kw] = w.shapes.w!;
          const x = input([n!, h!, wd!, c!]);
          const filter = input([kh!, kw!, ci!, o!]);
          const p = w.padding ?? 0;
          fn = () =>
            tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, 1, [
              [0, 0],
              [p, p],
              [p, p],
              [0, 0],
            ]);
          break;
        }
        default:
          throw new Unsupported(`tfjs-cpu: no mapping for op '${(w as Workload).op}'`);
      }
      return {
        async run() {
          const out = tf.tidy(fn);
          await out.data();
          out.dispose();
        },
        dispose() {
          tf.dispose(inputs);
        },
      };
    },
  };
}
