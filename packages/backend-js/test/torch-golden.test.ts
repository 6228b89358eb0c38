/**
 * PyTorch 1.13 golden values (copied from shared/fixtures/torch into test/fixtures/) for every fused
 * kernel family: the semantics the references in the other tests encode, pinned to real torch output.
 */
import { readFileSync } from "node:fs";
import { type PoolAttrs, Tensor } from "@tessera/core";
import { describe, it } from "vitest";
import { JsBackend } from "../src/index.js";
import { expectClose, make, read } from "./helpers.js";

const be = new JsBackend();
const F = be.fused as Required<typeof be.fused>;

interface Golden {
  get(name: string): { shape: number[]; data: number[] } | undefined;
}

function load(name: string): Golden {
  const buf = readFileSync(new URL(`./fixtures/${name}.safetensors`, import.meta.url));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const n = Number(new DataView(ab).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(ab, 8, n))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  return {
    get(key) {
      const h = header[key];
      if (!h) return undefined;
      const [b, e] = h.data_offsets;
      const data =
        h.dtype === "F32"
          ? Array.from(new Float32Array(ab, 8 + n + b, (e - b) / 4))
          : Array.from(new BigInt64Array(ab, 8 + n + b, (e - b) / 8), Number);
      return { shape: h.shape, data };
    },
  };
}

/** Runs `fn` on the case's float32 inputs and compares output.y with torch's. */
function check(
  name: string,
  fn: (inp: Record<string, Tensor | null>, out: Tensor) => void,
  tol = { rtol: 1e-5, atol: 5e-6 },
): void {
  const g = load(name);
  const inputs: Record<string, Tensor | null> = {};
  for (const key of ["x", "weight", "bias", "target", "a", "b"]) {
    const t = g.get(`input.${key}`);
    inputs[key] = t ? make(be, t.shape, t.data, key === "target" ? "int32" : "float32") : null;
  }
  const y = g.get("output.y")!;
  const out = Tensor.empty(y.shape, "float32", be);
  fn(inputs, out);
  expectClose(read(out), y.data, tol.rtol, tol.atol);
  for (const t of [...Object.values(inputs), out]) t?.dispose();
}

const pool = (k: number, s: number, p: number, countIncludePad = true): PoolAttrs => ({
  kernel: [k, k],
  stride: [s, s],
  padding: [p, p],
  dilation: [1, 1],
  ceilMode: false,
  countIncludePad,
});

describe("fused kernels reproduce PyTorch's golden outputs", () => {
  it("softmax and logSoftmax (last dim, dim 1, ±150 logits)", () => {
    check("softmax_last", (i, o) => F.softmax(i.x!.kernelView, 3, o.kernelView));
    check("softmax_dim1", (i, o) => F.softmax(i.x!.kernelView, 1, o.kernelView));
    check("log_softmax_last", (i, o) => F.logSoftmax(i.x!.kernelView, 3, o.kernelView));
    check("log_softmax_dim1", (i, o) => F.logSoftmax(i.x!.kernelView, 1, o.kernelView));
    check("softmax_large", (i, o) => F.softmax(i.x!.kernelView, 1, o.kernelView));
    check("log_softmax_large", (i, o) => F.logSoftmax(i.x!.kernelView, 1, o.kernelView), {
      rtol: 1e-5,
      atol: 2e-5,
    });
  });

  it("layerNorm (affine, 2-D normalized shape, no affine, large offset, variance near eps)", () => {
    const ln = (size: number, eps: number) => (i: Record<string, Tensor | null>, o: Tensor) =>
      F.layerNorm(
        i.x!.kernelView,
        i.weight?.kernelView ?? null,
        i.bias?.kernelView ?? null,
        size,
        eps,
        o.kernelView,
      );
    check("layer_norm_last", ln(7, 1e-5));
    check("layer_norm_2d", ln(35, 1e-5));
    check("layer_norm_noaffine", ln(13, 1e-5));
    check("layer_norm_offset", ln(13, 1e-6), { rtol: 1e-4, atol: 1e-4 });
    check("layer_norm_small_var", ln(13, 1e-5), { rtol: 1e-4, atol: 1e-5 });
  });

  it("gelu, erf and tanh forms", () => {
    check("gelu_erf", (i, o) => F.gelu(i.x!.kernelView, "none", o.kernelView));
    check("gelu_tanh", (i, o) => F.gelu(i.x!.kernelView, "tanh", o.kernelView));
  });

  it("conv2d and convTranspose2d", () => {
    const c = (s: [number, number], p: [number, number]) => (i: Record<string, Tensor | null>, o: Tensor) =>
      F.conv2d(
        i.x!.kernelView,
        i.weight!.kernelView,
        i.bias?.kernelView ?? null,
        { stride: s, padding: p, dilation: [1, 1], groups: 1 },
        o.kernelView,
      );
    check("conv2d_s1p1_bias", c([1, 1], [1, 1]), { rtol: 1e-5, atol: 2e-5 });
    check("conv2d_s1p1_nobias", c([1, 1], [1, 1]), { rtol: 1e-5, atol: 2e-5 });
    check("conv2d_patch_bias", c([4, 4], [0, 0]), { rtol: 1e-5, atol: 2e-5 });
    check("conv2d_k3x5_s2_p12", c([2, 2], [1, 2]), { rtol: 1e-5, atol: 2e-5 });
    const ct = (s: number, p: number) => (i: Record<string, Tensor | null>, o: Tensor) =>
      F.convTranspose2d(
        i.x!.kernelView,
        i.weight!.kernelView,
        i.bias?.kernelView ?? null,
        { stride: [s, s], padding: [p, p], dilation: [1, 1], groups: 1, outputPadding: [0, 0] },
        o.kernelView,
      );
    check("conv_transpose2d_k2s2", ct(2, 0), { rtol: 1e-5, atol: 2e-5 });
    check("conv_transpose2d_k4s2p1", ct(2, 1), { rtol: 1e-5, atol: 2e-5 });
  });

  it("max, average and adaptive pooling", () => {
    check("max_pool2d_k2s2", (i, o) => F.maxPool2d(i.x!.kernelView, pool(2, 2, 0), o.kernelView));
    check("max_pool2d_k3s2p1", (i, o) => F.maxPool2d(i.x!.kernelView, pool(3, 2, 1), o.kernelView));
    check("avg_pool2d_k2s2", (i, o) => F.avgPool2d(i.x!.kernelView, pool(2, 2, 0), o.kernelView));
    check("avg_pool2d_k3s2p1", (i, o) => F.avgPool2d(i.x!.kernelView, pool(3, 2, 1), o.kernelView));
    check("avg_pool2d_k3s2p1_nopadcount", (i, o) =>
      F.avgPool2d(i.x!.kernelView, pool(3, 2, 1, false), o.kernelView),
    );
    check("adaptive_avg_pool2d_3x4", (i, o) => F.adaptiveAvgPool2d(i.x!.kernelView, o.kernelView));
    check("adaptive_avg_pool2d_1x1", (i, o) => F.adaptiveAvgPool2d(i.x!.kernelView, o.kernelView));
  });

  it("nearest and bilinear interpolation (size and scale_factor)", () => {
    const interp =
      (mode: "nearest" | "bilinear", alignCorners: boolean, sf?: number) =>
      (i: Record<string, Tensor | null>, o: Tensor) => {
        const [, , H, W] = i.x!.shape as number[];
        const [, , Ho, Wo] = o.shape as number[];
        const scale: [number, number] = sf ? [1 / sf, 1 / sf] : [H! / Ho!, W! / Wo!];
        F.interpolate(i.x!.kernelView, { mode, alignCorners, scale }, o.kernelView);
      };
    check("interp_bilinear_up", interp("bilinear", false));
    check("interp_bilinear_up_align", interp("bilinear", true));
    check("interp_bilinear_down", interp("bilinear", false));
    check("interp_bilinear_down_align", interp("bilinear", true));
    check("interp_nearest_up", interp("nearest", false));
    check("interp_nearest_down", interp("nearest", false));
    check("interp_bilinear_scale_factor", interp("bilinear", false, 1.7), { rtol: 1e-5, atol: 2e-5 });
    check("interp_bilinear_x2", interp("bilinear", false));
  });

  it("crossEntropy (mean, sum, label smoothing, ignore_index)", () => {
    const ce =
      (reduction: "mean" | "sum", labelSmoothing = 0) =>
      (i: Record<string, Tensor | null>, o: Tensor) =>
        F.crossEntropy(
          i.x!.kernelView,
          i.target!.kernelView,
          null,
          { ignoreIndex: -100, labelSmoothing, reduction },
          o.kernelView,
        );
    check("cross_entropy_mean", ce("mean"));
    check("cross_entropy_sum", ce("sum"));
    check("cross_entropy_label_smoothing", ce("mean", 0.1));
    check("cross_entropy_ignore_index", ce("mean"));
  });

  it("matmul (2-D and batch broadcast)", () => {
    check("matmul_2d", (i, o) => be.matmul(i.a!.kernelView, i.b!.kernelView, false, false, o.kernelView));
    check("matmul_bcast", (i, o) => be.matmul(i.a!.kernelView, i.b!.kernelView, false, false, o.kernelView));
  });
});
