/**
 * An RGB8 canvas (row-major, interleaved) with the few drawing operations the plots need: fills,
 * rectangles, antialiased thick polylines and disks, bitmap text and image blits. Plain loops over one
 * Uint8Array; the result is a `DecodedImage` that `encodePng`/`writeImage` save directly.
 */
import type { DecodedImage, FloatImage } from "@tessera/data";
import { FONT_ADVANCE, FONT_HEIGHT, FONT_WIDTH, glyphColumns } from "./font.js";

/** An sRGB colour, each component 0–255. */
export type Rgb = readonly [number, number, number];

/** An axis-aligned clip rectangle in pixels: [x, y) to [x + width, y + height). */
export interface ClipRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * An RGB8 drawing surface.
 *
 * @example
 * ```ts
 * const c = new Canvas(64, 32, [255, 255, 255]);
 * c.polyline([4, 60], [28, 4], [31, 119, 180], 2);
 * c.text(4, 4, "hi", [0, 0, 0]);
 * const img = c.toImage(); // { width: 64, height: 32, channels: 3, bitDepth: 8, data }
 * ```
 */
export class Canvas {
  readonly width: number;
  readonly height: number;
  /** `height·width·3` bytes, RGB interleaved. */
  readonly data: Uint8Array;

  constructor(width: number, height: number, background: Rgb = [255, 255, 255]) {
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
      throw new RangeError(`Canvas: width and height must be positive integers, got ${width}×${height}`);
    }
    this.width = width;
    this.height = height;
    this.data = new Uint8Array(width * height * 3);
    this.fill(background);
  }

  /** Paints the whole canvas one colour. */
  fill(color: Rgb): void {
    this.fillRect(0, 0, this.width, this.height, color);
  }

  /** Paints a filled rectangle (clipped to the canvas; coordinates rounded to whole pixels). */
  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    const [r, g, b] = color;
    const d = this.data;
    for (let yy = y0; yy < y1; yy++) {
      let o = (yy * this.width + x0) * 3;
      for (let xx = x0; xx < x1; xx++, o += 3) {
        d[o] = r;
        d[o + 1] = g;
        d[o + 2] = b;
      }
    }
  }

  /** Draws a rectangle's outline `thickness` pixels wide, inside the rectangle. */
  strokeRect(x: number, y: number, w: number, h: number, color: Rgb, thickness = 1): void {
    this.fillRect(x, y, w, thickness, color);
    this.fillRect(x, y + h - thickness, w, thickness, color);
    this.fillRect(x, y, thickness, h, color);
    this.fillRect(x + w - thickness, y, thickness, h, color);
  }

  /** Mixes `color` into one pixel with weight `coverage` in [0, 1] (ignored outside the canvas). */
  blend(x: number, y: number, color: Rgb, coverage: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || !(coverage > 0)) return;
    const a = Math.min(coverage, 1);
    const o = (y * this.width + x) * 3;
    const d = this.data;
    d[o] = Math.round((d[o] as number) * (1 - a) + color[0] * a);
    d[o + 1] = Math.round((d[o + 1] as number) * (1 - a) + color[1] * a);
    d[o + 2] = Math.round((d[o + 2] as number) * (1 - a) + color[2] * a);
  }

  /** An antialiased straight line `width` pixels thick between two points (pixel centres at +0.5). */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, width = 1, clip?: ClipRect): void {
    this.polyline([x0, x1], [y0, y1], color, width, clip);
  }

  /**
   * An antialiased polyline `width` pixels thick through (xs[i], ys[i]). A non-finite coordinate
   * breaks the line there (a gap, as for a NaN loss). Coverage is accumulated per pixel as the
   * maximum over segments and blended once, so joints are not drawn darker than the segments.
   */
  polyline(xs: ArrayLike<number>, ys: ArrayLike<number>, color: Rgb, width = 1, clip?: ClipRect): void {
    const n = Math.min(xs.length, ys.length);
    const cx0 = Math.max(0, clip ? Math.floor(clip.x) : 0);
    const cy0 = Math.max(0, clip ? Math.floor(clip.y) : 0);
    const cx1 = Math.min(this.width, clip ? Math.ceil(clip.x + clip.width) : this.width);
    const cy1 = Math.min(this.height, clip ? Math.ceil(clip.y + clip.height) : this.height);
    if (n < 2 || cx1 <= cx0 || cy1 <= cy0) return;
    const hw = Math.max(0.5, width / 2);
    const mask = new Float32Array(this.width * this.height);
    let mx0 = this.width;
    let my0 = this.height;
    let mx1 = -1;
    let my1 = -1;
    for (let i = 0; i + 1 < n; i++) {
      const ax = xs[i] as number;
      const ay = ys[i] as number;
      const bx = xs[i + 1] as number;
      const by = ys[i + 1] as number;
      if (!(Number.isFinite(ax) && Number.isFinite(ay) && Number.isFinite(bx) && Number.isFinite(by)))
        continue;
      const px0 = Math.max(cx0, Math.floor(Math.min(ax, bx) - hw - 1));
      const py0 = Math.max(cy0, Math.floor(Math.min(ay, by) - hw - 1));
      const px1 = Math.min(cx1 - 1, Math.ceil(Math.max(ax, bx) + hw + 1));
      const py1 = Math.min(cy1 - 1, Math.ceil(Math.max(ay, by) + hw + 1));
      const dx = bx - ax;
      const dy = by - ay;
      const len2 = dx * dx + dy * dy;
      for (let y = py0; y <= py1; y++) {
        const cy = y + 0.5;
        for (let x = px0; x <= px1; x++) {
          const cx = x + 0.5;
          // Distance from the pixel centre to the segment (its nearest point, clamped to the ends).
          let t = len2 > 0 ? ((cx - ax) * dx + (cy - ay) * dy) / len2 : 0;
          t = t < 0 ? 0 : Math.min(t, 1);
          const ex = ax + t * dx - cx;
          const ey = ay + t * dy - cy;
          const cov = hw + 0.5 - Math.sqrt(ex * ex + ey * ey);
          if (cov <= 0) continue;
          const k = y * this.width + x;
          if (cov > (mask[k] as number)) mask[k] = Math.min(cov, 1);
        }
      }
      if (px0 < mx0) mx0 = px0;
      if (py0 < my0) my0 = py0;
      if (px1 > mx1) mx1 = px1;
      if (py1 > my1) my1 = py1;
    }
    for (let y = my0; y <= my1; y++) {
      for (let x = mx0; x <= mx1; x++) {
        const cov = mask[y * this.width + x] as number;
        if (cov > 0) this.blend(x, y, color, cov);
      }
    }
  }

  /** A filled antialiased disk of radius `r` centred at (cx, cy). */
  disk(cx: number, cy: number, r: number, color: Rgb): void {
    const x0 = Math.max(0, Math.floor(cx - r - 1));
    const y0 = Math.max(0, Math.floor(cy - r - 1));
    const x1 = Math.min(this.width - 1, Math.ceil(cx + r + 1));
    const y1 = Math.min(this.height - 1, Math.ceil(cy + r + 1));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        this.blend(x, y, color, r + 0.5 - Math.sqrt(dx * dx + dy * dy));
      }
    }
  }

  /**
   * Bitmap text with its top-left corner at (x, y), each font pixel drawn as a `scale`×`scale` block.
   * `vertical` turns it 90° counter-clockwise (reading bottom to top, as a y-axis label), with (x, y)
   * then the top-left of the rotated block.
   */
  text(x: number, y: number, text: string, color: Rgb, scale = 1, vertical = false): void {
    const s = Math.max(1, Math.round(scale));
    const x0 = Math.round(x);
    const y0 = Math.round(y);
    const length = text.length * FONT_ADVANCE - 1;
    for (let i = 0; i < text.length; i++) {
      const cols = glyphColumns(text[i] as string);
      for (let c = 0; c < FONT_WIDTH; c++) {
        const bits = cols[c] as number;
        if (bits === 0) continue;
        for (let r = 0; r < FONT_HEIGHT; r++) {
          if ((bits & (1 << r)) === 0) continue;
          const u = i * FONT_ADVANCE + c; // along the text
          if (vertical) this.fillRect(x0 + r * s, y0 + (length - 1 - u) * s, s, s, color);
          else this.fillRect(x0 + u * s, y0 + r * s, s, s, color);
        }
      }
    }
  }

  /**
   * Copies an image onto the canvas at (x, y), each source pixel a `scale`×`scale` block (nearest
   * neighbour, so small images stay crisp). Gray is expanded to RGB, alpha is dropped, 16-bit is
   * reduced to 8-bit, and float values are clamped to [0, 1].
   */
  drawImage(img: FloatImage | DecodedImage, x: number, y: number, scale = 1): void {
    const s = Math.max(1, Math.round(scale));
    const w = img.width;
    const h = img.height;
    const isFloat = img.data instanceof Float32Array;
    const ch = img.channels;
    const color = ch >= 3 ? 3 : 1;
    const plane = w * h;
    const max = isFloat ? 1 : (img as DecodedImage).bitDepth === 16 ? 65535 : 255;
    const src = img.data;
    const d = this.data;
    for (let sy = 0; sy < h; sy++) {
      for (let sx = 0; sx < w; sx++) {
        const rgb0 = isFloat ? sy * w + sx : (sy * w + sx) * ch;
        const step = isFloat ? plane : 1;
        const v0 = to8(src[rgb0] as number, max);
        const v1 = color === 3 ? to8(src[rgb0 + step] as number, max) : v0;
        const v2 = color === 3 ? to8(src[rgb0 + 2 * step] as number, max) : v0;
        const ox = Math.round(x) + sx * s;
        const oy = Math.round(y) + sy * s;
        for (let by = Math.max(0, oy); by < Math.min(this.height, oy + s); by++) {
          for (let bx = Math.max(0, ox); bx < Math.min(this.width, ox + s); bx++) {
            const o = (by * this.width + bx) * 3;
            d[o] = v0;
            d[o + 1] = v1;
            d[o + 2] = v2;
          }
        }
      }
    }
  }

  /** The canvas as an 8-bit RGB `DecodedImage` (shares the pixel buffer). */
  toImage(): DecodedImage {
    return { width: this.width, height: this.height, channels: 3, bitDepth: 8, data: this.data };
  }
}

/** A sample in [0, max] (or a float in [0, 1] when max is 1) as a byte, clamped, NaN as 0. */
function to8(v: number, max: number): number {
  const t = v / max;
  if (!(t > 0)) return 0;
  return t >= 1 ? 255 : Math.round(t * 255);
}
