/** Hand-made frame sequences for the autoencoder tests: a bright square moving across a dark frame. */
import path from "node:path";
import { writeImage } from "@tessera/data";

/** `sequences` folders (seq_0, …) of `frames` gray PNGs (frame_0.png, …), `size`×`size`. */
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
