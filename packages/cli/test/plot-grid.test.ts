import type { DecodedImage, FloatImage } from "@tessera/data";
import { describe, expect, it } from "vitest";
import { textWidth } from "../src/plot/font.js";
import { CAPTION_HEIGHT, imageGrid } from "../src/plot/grid.js";

const gray = (h: number, w: number, v: number): FloatImage => ({
  channels: 1,
  height: h,
  width: w,
  data: new Float32Array(h * w).fill(v),
});

describe("imageGrid", () => {
  it("is pad + Σ(column width + pad) wide and pad + Σ(row height + pad) tall", () => {
    const rows = [
      [{ image: gray(10, 12, 0.5) }, { image: gray(6, 20, 0.5) }],
      [{ image: gray(8, 8, 0.5), caption: "x" }],
    ];
    const out = imageGrid(rows, { scale: 2, pad: 3 });
    // Columns: max(12, 8)·2 = 24 and 20·2 = 40; rows: 10·2 = 20 and 8·2 + caption.
    expect(out.width).toBe(3 + (24 + 3) + (40 + 3));
    expect(out.height).toBe(3 + (20 + 3) + (16 + CAPTION_HEIGHT + 3));
    expect([out.channels, out.bitDepth]).toEqual([3, 8]);
  });

  it("widens a column to fit its caption and defaults to a scale that makes images ≥ 96 px", () => {
    const caption = "a caption longer than the image";
    const out = imageGrid([[{ image: gray(28, 28, 0), caption }]], { pad: 0 });
    expect(out.width).toBe(Math.max(28 * 4, textWidth(caption)));
    expect(out.height).toBe(28 * 4 + CAPTION_HEIGHT);
  });

  it("copies images pixel for pixel, scaled by nearest neighbour", () => {
    const rgb: DecodedImage = {
      width: 1,
      height: 1,
      channels: 3,
      bitDepth: 8,
      data: new Uint8Array([10, 20, 30]),
    };
    const deep: DecodedImage = {
      width: 1,
      height: 1,
      channels: 1,
      bitDepth: 16,
      data: new Uint16Array([65535]),
    };
    const out = imageGrid([[{ image: rgb }, { image: deep }]], { scale: 2, pad: 1 });
    expect([out.width, out.height]).toEqual([1 + 3 + 3, 1 + 2 + 1]);
    const px = (x: number, y: number) =>
      Array.from(out.data.subarray((y * out.width + x) * 3, (y * out.width + x) * 3 + 3));
    expect(px(1, 1)).toEqual([10, 20, 30]);
    expect(px(2, 2)).toEqual([10, 20, 30]);
    expect(px(4, 2)).toEqual([255, 255, 255]);
    expect(px(0, 0)).toEqual([255, 255, 255]);
  });

  it("rejects an empty grid with a message saying what to pass", () => {
    expect(() => imageGrid([])).toThrow(/at least one row/);
  });
});
