/** Hand-made data for the task tests: frame sequences, depth scenes and a labelled corpus. */
import fs from "node:fs";
import path from "node:path";
import { writeImage } from "@tessera/data";

/** A bright square moving across a dark frame: `sequences` folders (seq_0, …) of `frames` gray PNGs (frame_0.png, …), `size`×`size`. */
export async function writeMovingSquares(
  root: string,
  sequences: number,
  frames: number,
  size: number,
): Promise<void> {
  const side = Math.max(2, Math.floor(size / 4));
  for (let s = 0; s < sequences; s++) {
    for (let f = 0; f < frames; f++) {
      const data = new Uint8Array(size * size).fill(20);
      const x0 = (s * 3 + f * 2) % (size - side);
      const y0 = (s * 5 + f) % (size - side);
      for (let y = y0; y < y0 + side; y++) for (let x = x0; x < x0 + side; x++) data[y * size + x] = 230;
      await writeImage(path.join(root, `seq_${s}`, `frame_${f}.png`), {
        width: size,
        height: size,
        channels: 1,
        bitDepth: 8,
        data,
      });
    }
  }
}

/**
 * Scenes a model can learn: depth grows down the image (a ground plane seen from above) at a slope
 * that varies per scene, and the image's brightness encodes depth. The top-left 4×4 is invalid (0).
 */
export async function writeScenes(root: string, count: number, SIZE: number): Promise<void> {
  for (let s = 0; s < count; s++) {
    const slope = 20 + 5 * s; // mm per row
    const depth = new Uint16Array(SIZE * SIZE);
    const rgb = new Uint8Array(SIZE * SIZE * 3);
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const i = y * SIZE + x;
        const mm = 1000 + slope * y;
        depth[i] = y < 4 && x < 4 ? 0 : mm;
        const v = Math.min(255, Math.round(mm / 12));
        rgb[3 * i] = v;
        rgb[3 * i + 1] = 255 - v;
        rgb[3 * i + 2] = (x * 8) & 255;
      }
    }
    const name = `${String(s).padStart(4, "0")}.png`;
    await writeImage(path.join(root, "images", name), {
      width: SIZE,
      height: SIZE,
      channels: 3,
      bitDepth: 8,
      data: rgb,
    });
    await writeImage(path.join(root, "depths", name), {
      width: SIZE,
      height: SIZE,
      channels: 1,
      bitDepth: 16,
      data: depth,
    });
  }
}

/** Two topics told apart by their words; each line is distinct so the split is meaningful. */
export function writeCorpus(file: string, perClass: number): void {
  const lines = ["# a tiny two-topic corpus"];
  for (let i = 0; i < perClass; i++) {
    lines.push(`sports\tthe team won the match ${i} with a late goal`);
    lines.push(`weather\theavy rain and wind ${100 + i} expected this afternoon`);
  }
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
}
