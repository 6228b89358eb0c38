import type { FloatImage } from "@tessera/data";
import { describe, expect, it } from "vitest";
import { colorize, heatmapOverlay } from "../src/plot/overlay.js";

function rampImage(channels: number, h: number, w: number): FloatImage {
  const data = new Float32Array(channels * h * w);
  for (let i = 0; i < data.length; i++) data[i] = (i % 17) / 16;
  return { channels, height: h, width: w, data };
}

/** A FloatImage as 8-bit HWC RGB the way the overlay rounds (gray repeated on three channels). */
function toRgb8(img: FloatImage): Uint8Array {
  const plane = img.height * img.width;
  const out = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = img.data[(img.channels === 1 ? 0 : c) * plane + p] as number;
      out[p * 3 + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
    }
  }
  return out;
}

describe("heatmapOverlay", () => {
  const heat = { height: 4, width: 4, data: Float32Array.from({ length: 16 }, (_, i) => i * i) };

  it("equals the image where alpha is 0 (gray expanded to RGB)", () => {
    for (const channels of [1, 3]) {
      const img = rampImage(channels, 8, 8);
      const out = heatmapOverlay(img, heat, { alpha: 0, scale: 1 });
      expect([out.width, out.height, out.channels, out.bitDepth]).toEqual([8, 8, 3, 8]);
      expect(Array.from(out.data)).toEqual(Array.from(toRgb8(img)));
    }
  });

  it("equals the colormap of the normalised heat where alpha is 1", () => {
    // Heat the same size as the image: the upsampling is the identity, so it must match colorize.
    const img = rampImage(1, 4, 4);
    const out = heatmapOverlay(img, heat, { alpha: 1, scale: 1 });
    const expected = toRgb8(colorize({ channels: 1, height: 4, width: 4, data: heat.data }));
    expect(Array.from(out.data)).toEqual(Array.from(expected));
  });

  it("upsamples the heat bilinearly between its extremes and enlarges small images to ≥ 224", () => {
    const img = rampImage(1, 28, 28);
    const out = heatmapOverlay(
      img,
      { height: 2, width: 2, data: new Float32Array([0, 1, 2, 3]) },
      { alpha: 1 },
    );
    expect([out.width, out.height]).toEqual([224, 224]);
    const low = toRgb8(colorize({ channels: 1, height: 1, width: 2, data: new Float32Array([0, 1]) }));
    // Top-left corner is the heat minimum (first colormap entry), bottom-right the maximum (last).
    expect(Array.from(out.data.subarray(0, 3))).toEqual(Array.from(low.subarray(0, 3)));
    expect(Array.from(out.data.subarray(out.data.length - 3))).toEqual(Array.from(low.subarray(3, 6)));
  });

  it("treats a constant heat map as all zeros instead of dividing by zero", () => {
    const img = rampImage(3, 5, 5);
    const out = heatmapOverlay(
      img,
      { height: 1, width: 1, data: new Float32Array([7]) },
      { alpha: 1, scale: 2 },
    );
    const zero = toRgb8(
      colorize({ channels: 1, height: 1, width: 1, data: new Float32Array([0]) }, { min: 0, max: 1 }),
    );
    for (let i = 0; i < out.data.length; i += 3) {
      expect([out.data[i], out.data[i + 1], out.data[i + 2]]).toEqual(Array.from(zero));
    }
  });

  it("rejects a heat map whose size does not match its data, naming the sizes", () => {
    expect(() =>
      heatmapOverlay(rampImage(1, 4, 4), { height: 3, width: 3, data: new Float32Array(4) }),
    ).toThrow(/4 values for 3×3/);
  });
});

describe("colorize", () => {
  it("maps low to dark and high to bright, NaN to black", () => {
    const out = colorize({ channels: 1, height: 1, width: 3, data: new Float32Array([0, 1, Number.NaN]) });
    expect(out.channels).toBe(3);
    const luma = (p: number) =>
      (out.data[p] as number) + (out.data[3 + p] as number) + (out.data[6 + p] as number);
    expect(luma(1)).toBeGreaterThan(luma(0));
    expect([out.data[2], out.data[5], out.data[8]]).toEqual([0, 0, 0]);
  });
});
