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
        case "blockGrad": {
          // The same pre-norm block as Tessera's (see workloads.ts), backpropagated by hand like mlpGrad:
          // every parameter's gradient is computed (and freed by the tidy); d loss / d wqkv is returned.
          const [batch, seq, dim] = w.shapes.x! as [number, number, number];
          const heads = w.heads ?? 1;
          const hd = dim / heads;
          const tokens = batch * seq;
          const x = input("x");
          const p = Object.fromEntries(
            Object.keys(w.shapes)
              .filter((k) => k !== "x")
              .map((k) => [k, input(k)]),
          ) as Record<string, tf.Tensor>;
          const scale = 1 / Math.sqrt(hd);
          const eps = 1e-5;
          /** Layer norm over the last dim of [tokens, dim]; returns the normalized input and 1/σ too. */
          const ln = (v: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
            const { mean, variance } = tf.moments(v, -1, true);
            const rstd = tf.rsqrt(tf.add(variance, eps));
            const xhat = tf.mul(tf.sub(v, mean), rstd);
            return { y: tf.add(tf.mul(xhat, g), b), xhat, rstd };
          };
          /** d input of a layer norm from d output (the affine's gradients are computed alongside). */
          const lnBackward = (dy: tf.Tensor, xhat: tf.Tensor, rstd: tf.Tensor, g: tf.Tensor) => {
            tf.sum(tf.mul(dy, xhat), 0); // d weight
            tf.sum(dy, 0); // d bias
            const dxhat = tf.mul(dy, g);
            const m1 = tf.mean(dxhat, -1, true);
            const m2 = tf.mean(tf.mul(dxhat, xhat), -1, true);
            return tf.mul(tf.sub(tf.sub(dxhat, m1), tf.mul(xhat, m2)), rstd);
          };
          const linear = (v: tf.Tensor, wt: tf.Tensor, b: tf.Tensor) =>
            tf.add(tf.matMul(v, wt, false, true), b);
          /** d input of a linear; its weight's and bias's gradients are computed alongside. */
          const linearBackward = (dy: tf.Tensor, v: tf.Tensor, wt: tf.Tensor) => {
            const dw = tf.matMul(dy, v, true, false);
            tf.sum(dy, 0);
            return { dx: tf.matMul(dy, wt), dw };
          };
          const heads3 = (t: tf.Tensor) =>
            tf.reshape(tf.transpose(tf.reshape(t, [batch, seq, heads, hd]), [0, 2, 1, 3]), [
              batch * heads,
              seq,
              hd,
            ]);
          const merge = (t: tf.Tensor) =>
            tf.reshape(tf.transpose(tf.reshape(t, [batch, heads, seq, hd]), [0, 2, 1, 3]), [tokens, dim]);
          fn = () => {
            const x2 = tf.reshape(x, [tokens, dim]);
            // Forward.
            const n1 = ln(x2, p.ln1w!, p.ln1b!);
            const qkv = linear(n1.y, p.wqkv!, p.bqkv!); // [tokens, 3·dim]
            const [q, k, v] = tf.split(qkv, 3, 1).map(heads3) as [tf.Tensor, tf.Tensor, tf.Tensor];
            const probs = tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale), -1); // [B·H, S, S]
            const merged = merge(tf.matMul(probs, v));
            const h = tf.add(x2, linear(merged, p.wproj!, p.bproj!));
            const n2 = ln(h, p.ln2w!, p.ln2b!);
            const z1 = linear(n2.y, p.w1!, p.b1!);
            const g = tf.mul(tf.mul(z1, 0.5), tf.add(tf.erf(tf.mul(z1, Math.SQRT1_2)), 1));
            const y = tf.add(h, linear(g, p.w2!, p.b2!));
            // Backward of mean(y²).
            const dy = tf.mul(y, 2 / y.size);
            const dg = linearBackward(dy, g, p.w2!).dx;
            // gelu'(z) = Φ(z) + z·φ(z)
            const cdf = tf.mul(tf.add(tf.erf(tf.mul(z1, Math.SQRT1_2)), 1), 0.5);
            const pdf = tf.mul(tf.exp(tf.mul(tf.square(z1), -0.5)), 1 / Math.sqrt(2 * Math.PI));
            const dz1 = tf.mul(dg, tf.add(cdf, tf.mul(z1, pdf)));
            const dn2 = linearBackward(dz1, n2.y, p.w1!).dx;
            const dh = tf.add(dy, lnBackward(dn2, n2.xhat, n2.rstd, p.ln2w!));
            const dmerged = heads3(linearBackward(dh, merged, p.wproj!).dx);
            const dprobs = tf.matMul(dmerged, v, false, true);
            const dv = tf.matMul(probs, dmerged, true, false);
            const dlogits = tf.mul(
              tf.mul(probs, tf.sub(dprobs, tf.sum(tf.mul(dprobs, probs), -1, true))),
              scale,
            );
            const dq = tf.matMul(dlogits, k);
            const dk = tf.matMul(dlogits, q, true, false);
            const dqkv = tf.concat([merge(dq), merge(dk), merge(dv)], 1); // [tokens, 3·dim]
            const { dx: dn1, dw: dwqkv } = linearBackward(dqkv, n1.y, p.wqkv!);
            lnBackward(dn1, n1.xhat, n1.rstd, p.ln1w!); // for the layer norm's weight and bias gradients
            return dwqkv;
          };
          break;
        }
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
