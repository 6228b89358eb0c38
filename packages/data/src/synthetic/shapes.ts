/**
 * Procedural frame sequences for the autoencoder and the autoencoder + LSTM workflow: 1–3 soft-edged
 * shapes (circles, squares, triangles) glide and spin over a dark background with slight noise. Motion
 * is smooth (constant velocity and spin, elastic bounces off the borders), so the next frame — and its
 * embedding — is predictable from the previous ones. Everything derives from the seed: the same seed
 * gives the same bytes.
 *
 * Layout: `dir/seq_000/frame_000.png` … (8-bit grayscale PNG), which `ImageFiles` (every frame) and
 * `FrameSequenceDataset` (windows per sequence folder) both read.
 */
import { join } from "node:path";
import { writeImage } from "../image.js";
import { Rng } from "../rng.js";
import type { DecodedImage } from "../types.js";

/** Options of `generateShapesDataset`. */
export interface ShapesOptions {
  /** Number of sequences (folders). Default 8. */
  sequences?: number;
  /** Frames per sequence. Default 16. */
  frames?: number;
  /** Frame width and height in pixels. Default 201. */
  size?: number;
  /** Seed of everything random. Default 0. */
  seed?: number;
}

const CIRCLE = 0;
const SQUARE = 1;
const TRIANGLE = 2;

interface Shape {
  kind: number;
  /** Centre and velocity in pixels, per frame. */
  x: number;
  y: number;
  vx: number;
  vy: number;
  /** Size (circle radius; half side of the square; triangle circumradius-ish), pixels. */
  r: number;
  angle: number;
  spin: number;
  brightness: number;
}

/** Background level and noise: dark but not black, so the autoencoder must model it too. */
const BACKGROUND = 0.08;
const NOISE_STD = 0.015;
/** Edge softness in pixels (coverage ramps over this width), scaled a little with the frame size. */
const SOFTNESS_PER_PIXEL = 1 / 120;

/**
 * Writes `sequences` folders of `frames` grayscale PNG frames each and returns how many files it wrote.
 *
 * @example
 * ```ts
 * import { FrameSequenceDataset, generateShapesDataset } from "@tessera/data";
 * await generateShapesDataset("/tmp/shapes", { sequences: 4, frames: 12, size: 64, seed: 1 });
 * const windows = await FrameSequenceDataset.open("/tmp/shapes", { seqLen: 8 }); // 4 · (12 − 8 + 1) = 20 windows
 * ```
 */
export async function generateShapesDataset(
  dir: string,
  opts: ShapesOptions = {},
): Promise<{ files: number }> {
  const sequences = checkCount("sequences", opts.sequences ?? 8, 1);
  const frames = checkCount("frames", opts.frames ?? 16, 1);
  const size = checkCount("size", opts.size ?? 201, 8);
  const seed = opts.seed ?? 0;
  const seqDigits = Math.max(3, String(sequences - 1).length);
  const frameDigits = Math.max(3, String(frames - 1).length);
  let files = 0;
  for (let s = 0; s < sequences; s++) {
    // One stream per sequence: sequence s is the same whatever `sequences` is.
    const rng = Rng.derive(seed, s);
    const shapes = randomShapes(rng, size);
    const seqDir = join(dir, `seq_${String(s).padStart(seqDigits, "0")}`);
    for (let f = 0; f < frames; f++) {
      const img = renderShapesFrame(shapes, size, rng);
      await writeImage(join(seqDir, `frame_${String(f).padStart(frameDigits, "0")}.png`), img);
      files++;
      step(shapes, size);
    }
  }
  return { files };
}

function checkCount(name: string, v: number, min: number): number {
  if (!(Number.isInteger(v) && v >= min)) {
    throw new RangeError(`generateShapesDataset: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
  return v;
}

function randomShapes(rng: Rng, size: number): Shape[] {
  const n = 1 + rng.int(3);
  const shapes: Shape[] = [];
  for (let i = 0; i < n; i++) {
    const r = size * rng.uniform(0.08, 0.16);
    const speed = size * rng.uniform(0.008, 0.025);
    const heading = rng.uniform(0, 2 * Math.PI);
    shapes.push({
      kind: rng.int(TRIANGLE + 1),
      x: rng.uniform(r, size - r),
      y: rng.uniform(r, size - r),
      vx: speed * Math.cos(heading),
      vy: speed * Math.sin(heading),
      r,
      angle: rng.uniform(0, 2 * Math.PI),
      spin: rng.uniform(-0.12, 0.12),
      brightness: rng.uniform(0.45, 1),
    });
  }
  return shapes;
}

/** Advances every shape one frame, reflecting it off the borders so it stays in view. */
function step(shapes: Shape[], size: number): void {
  for (const s of shapes) {
    s.x += s.vx;
    s.y += s.vy;
    s.angle += s.spin;
    if (s.x < s.r) {
      s.x = 2 * s.r - s.x;
      s.vx = -s.vx;
    } else if (s.x > size - s.r) {
      s.x = 2 * (size - s.r) - s.x;
      s.vx = -s.vx;
    }
    if (s.y < s.r) {
      s.y = 2 * s.r - s.y;
      s.vy = -s.vy;
    } else if (s.y > size - s.r) {
      s.y = 2 * (size - s.r) - s.y;
      s.vy = -s.vy;
    }
  }
}

/** Signed distance (pixels, negative inside) from a point in the shape's own frame to its outline. */
function signedDistance(kind: number, px: number, py: number, r: number): number {
  if (kind === CIRCLE) return Math.sqrt(px * px + py * py) - r;
  if (kind === SQUARE) {
    const b = r * 0.85;
    const qx = Math.abs(px) - b;
    const qy = Math.abs(py) - b;
    const ox = Math.max(qx, 0);
    const oy = Math.max(qy, 0);
    return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0);
  }
  // Equilateral triangle of side 2·(1.2 r), centred (Inigo Quilez's exact distance).
  const k = Math.sqrt(3);
  const a = r * 1.2;
  let x = Math.abs(px) - a;
  let y = py + a / k;
  if (x + k * y > 0) {
    const nx = (x - k * y) / 2;
    const ny = (-k * x - y) / 2;
    x = nx;
    y = ny;
  }
  x -= Math.min(Math.max(x, -2 * a), 0);
  return -Math.sqrt(x * x + y * y) * Math.sign(y);
}

/** One frame: background + noise, then each shape painted over with soft (antialiased) edges. */
function renderShapesFrame(shapes: Shape[], size: number, rng: Rng): DecodedImage {
  const img = new Float32Array(size * size).fill(BACKGROUND);
  const soft = Math.max(1, size * SOFTNESS_PER_PIXEL);
  for (const s of shapes) {
    const cos = Math.cos(s.angle);
    const sin = Math.sin(s.angle);
    const reach = s.r * 1.5 + soft + 1;
    const x0 = Math.max(0, Math.floor(s.x - reach));
    const x1 = Math.min(size - 1, Math.ceil(s.x + reach));
    const y0 = Math.max(0, Math.floor(s.y - reach));
    const y1 = Math.min(size - 1, Math.ceil(s.y + reach));
    for (let y = y0; y <= y1; y++) {
      const dy = y + 0.5 - s.y;
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - s.x;
        // Into the shape's frame: rotate by −angle.
        const d = signedDistance(s.kind, cos * dx + sin * dy, -sin * dx + cos * dy, s.r);
        const cov = 0.5 - d / soft;
        if (cov <= 0) continue;
        const a = Math.min(cov, 1);
        const i = y * size + x;
        img[i] = (img[i] as number) * (1 - a) + s.brightness * a;
      }
    }
  }
  const out = new Uint8Array(size * size);
  for (let i = 0; i < out.length; i++) {
    const v = (img[i] as number) + NOISE_STD * rng.normal();
    out[i] = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
  }
  return { width: size, height: size, channels: 1, bitDepth: 8, data: out };
}
