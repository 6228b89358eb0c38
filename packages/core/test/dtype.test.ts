import { describe, expect, it } from "vitest";
import "@tessera/backend-js";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, promoteTypes, tensor, tidy } from "../src/index.js";

describe("dtypes", () => {
  it("float16 encodes exact values, rounds to nearest even, and handles subnormals, Inf and NaN", () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // rounds up to Inf
    expect(f32ToF16(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // halfway, ties to even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f16ToF32(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(f16ToF32(f32ToF16(Number.NaN)))).toBe(true);
    expect(Object.is(f16ToF32(f32ToF16(-0)), -0)).toBe(true);
  });

  it("bfloat16 keeps float32's exponent range and rounds the mantissa to 8 bits", () => {
    expect(bf16ToF32(f32ToBf16(3e38))).toBeCloseTo(3e38, -36);
    expect(bf16ToF32(f32ToBf16(1 + 2 ** -8))).toBe(1); // tie to even
    expect(bf16ToF32(f32ToBf16(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(Number.NaN)))).toBe(true);
  });

  it("half tensors store 16-bit patterns and compute in float32", () => {
    tidy(() => {
      const h = tensor([1, 2.5, 1000.3], { dtype: "float16" });
      expect(h.dtype).toBe("float16");
      expect(h.storage.bytes).toBe(6);
      expect(h.dataSync()).toEqual(new Float32Array([1, 2.5, 1000.5]));
      const b = tensor([1, 2.5, 1000.3], { dtype: "bfloat16" }).mul(2);
      expect(b.dtype).toBe("bfloat16");
      expect(b.dataSync()).toEqual(new Float32Array([2, 5, 2000]));
    });
  });

  it("promotion follows PyTorch's categories", () => {
    expect(promoteTypes("int32", "float32")).toBe("float32");
    expect(promoteTypes("bool", "int32")).toBe("int32");
    expect(promoteTypes("float16", "bfloat16")).toBe("float32");
    expect(promoteTypes("float32", "float64")).toBe("float64");
    expect(promoteTypes("float16", "float32")).toBe("float32");
    tidy(() => {
      const i = tensor(new Int32Array([1, 2, 3]));
      expect(i.mul(2).dtype).toBe("int32");
      expect(i.mul(2.5).dtype).toBe("float32");
      expect(i.div(2).dataSync()).toEqual(new Float32Array([0.5, 1, 1.5]));
      expect(tensor([1, 2], { dtype: "float16" }).add(tensor(1)).dtype).toBe("float16");
    });
  });

  it("casts truncate toward zero and map to bool by non-zero", () => {
    tidy(() => {
      const x = tensor([-1.7, -0.2, 0, 2.9, Number.NaN]);
      expect(x.cast("int32").dataSync()).toEqual(new Int32Array([-1, 0, 0, 2, 0]));
      expect(x.cast("bool").arraySync()).toEqual([true, true, false, true, true]);
      expect(tensor([true, false]).cast("float32").dataSync()).toEqual(new Float32Array([1, 0]));
    });
  });
});
