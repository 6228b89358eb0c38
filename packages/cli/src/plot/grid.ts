/**
 * Images side by side with captions (depth prediction | ground truth, reconstruction | input), as one
 * RGB image for a PNG.
 */
import type { DecodedImage, FloatImage } from "@tessera/data";
import { FONT_HEIGHT, textWidth } from "./font.js";
import { Canvas } from "./raster.js";

/** One cell of an `imageGrid`: an image and an optional caption printed under it. */
export interface GridCell {
  image: FloatImage | DecodedImage;
  caption?: string;
}

/** Height of a caption line under an image: a gap, the text, a gap. */
export const CAPTION_HEIGHT = FONT_HEIGHT + 6;

/**
 * Lays out rows of images on a white sheet: each image is enlarged by the integer `scale` (nearest
 * neighbour), each column is as wide as its widest image or caption, each row as tall as its tallest
 * image plus one caption line when any cell of the row has a caption, with `pad` pixels around and
 * between cells. Images are centred in their cells. Float images are clamped to [0, 1] (colour a
 * depth map with `colorize` first); gray becomes RGB; alpha is dropped. The default `scale` makes
 * the smallest image's shorter side at least 96 pixels (28×28 → ×4).
 *
 * Size: width = pad + Σ_columns (columnWidth + pad), height = pad + Σ_rows (rowHeight + pad).
 *
 * @example
 * ```ts
 * import { writeImage } from "@tessera/data";
 * const a = { channels: 1, height: 28, width: 28, data: new Float32Array(784).fill(0.2) };
 * const b = { channels: 1, height: 28, width: 28, data: new Float32Array(784).fill(0.8) };
 * const sheet = imageGrid([[{ image: a, caption: "reconstruction" }, { image: b, caption: "input" }]], { scale: 4 });
 * await writeImage("reconstructions.png", sheet);
 * ```
 */
export function imageGrid(rows: GridCell[][], opts: { scale?: number; pad?: number } = {}): DecodedImage {
  const pad = opts.pad ?? 4;
  if (!(Number.isInteger(pad) && pad >= 0))
    throw new RangeError(`imageGrid: pad must be an integer ≥ 0, got ${pad}`);
  let minSide = Number.POSITIVE_INFINITY;
  for (const row of rows)
    for (const cell of row) minSide = Math.min(minSide, cell.image.height, cell.image.width);
  if (!Number.isFinite(minSide))
    throw new RangeError("imageGrid: no images given; pass at least one row with one cell");
  const scale = opts.scale ?? Math.max(1, Math.ceil(96 / Math.max(1, minSide)));
  if (!(Number.isInteger(scale) && scale >= 1)) {
    throw new RangeError(`imageGrid: scale must be a positive integer, got ${scale}`);
  }

  const columns = Math.max(...rows.map((r) => r.length));
  const colW = new Array<number>(columns).fill(0);
  const rowH = rows.map((row) => {
    let imgH = 0;
    let captioned = false;
    row.forEach((cell, c) => {
      imgH = Math.max(imgH, cell.image.height * scale);
      colW[c] = Math.max(colW[c] as number, cell.image.width * scale, textWidth(cell.caption ?? ""));
      if (cell.caption) captioned = true;
    });
    return imgH + (captioned ? CAPTION_HEIGHT : 0);
  });
  const width = pad + colW.reduce((s, w) => s + w + pad, 0);
  const height = pad + rowH.reduce((s, h) => s + h + pad, 0);
  const canvas = new Canvas(width, height, [255, 255, 255]);

  let y = pad;
  rows.forEach((row, r) => {
    let x = pad;
    row.forEach((cell, c) => {
      const cw = colW[c] as number;
      const iw = cell.image.width * scale;
      canvas.drawImage(cell.image, x + Math.floor((cw - iw) / 2), y, scale);
      if (cell.caption) {
        const imgH = row.reduce((m, k) => Math.max(m, k.image.height * scale), 0);
        canvas.text(
          x + Math.floor((cw - textWidth(cell.caption)) / 2),
          y + imgH + 4,
          cell.caption,
          [0, 0, 0],
        );
      }
      x += cw + pad;
    });
    y += (rowH[r] as number) + pad;
  });
  return canvas.toImage();
}
