/**
 * Procedurally rendered RGB-D scenes for the depth-estimation workflow: a small ray caster (no
 * dependencies) draws 2–5 spheres and boxes standing on a checkered ground plane, seen by a camera a
 * little above the ground looking slightly down, with Lambert shading, hard sun shadows, a sky
 * gradient and distance haze. Each scene gives an 8-bit RGB image and its depth map: per pixel the
 * distance along the camera's viewing axis (z-depth, as depth sensors and NYU Depth V2 store it) in
 * millimetres, 16-bit; 0 where nothing is within `MAX_DEPTH_M` (sky, far ground) = invalid.
 *
 * Layout: `dir/images/0000.png` + `dir/depths/0000.png`, which `DepthFolder.open(dir)` reads with its
 * default depth scale of 0.001 m per unit.
 */
import { join } from "node:path";
import { writeImage } from "../image.js";
import { Rng } from "../rng.js";
import type { DecodedImage } from "../types.js";

/** Options of `generateDepthDataset`. */
export interface DepthScenesOptions {
  /** Number of scenes. Default 64. */
  count?: number;
  /** Image width and height in pixels. Default 64. */
  size?: number;
  /** Seed of everything random. Default 0. */
  seed?: number;
}

/**
 * Depths beyond this (metres) are stored as 0 = invalid, like a sensor's range limit.
 *
 * @example
 * ```ts
 * const maxMillimetres = MAX_DEPTH_M * 1000; // the largest value in a generated depth PNG
 * ```
 */
export const MAX_DEPTH_M = 20;

const SPHERE = 0;
const BOX = 1;

interface SceneObject {
  kind: number;
  /** Centre (metres): x right, y up, z forward. */
  cx: number;
  cy: number;
  cz: number;
  /** Sphere radius, or the box's half extents. */
  rx: number;
  ry: number;
  rz: number;
  /** Box rotation about the vertical axis (cos, sin). */
  cos: number;
  sin: number;
  color: [number, number, number];
}

interface Scene {
  camY: number;
  /** Camera basis: forward (f), right (r), up (u). */
  f: [number, number, number];
  r: [number, number, number];
  u: [number, number, number];
  tanHalfFov: number;
  sun: [number, number, number];
  ground: [number, number, number];
  objects: SceneObject[];
}

/**
 * Renders `count` scenes to `dir/images/NNNN.png` (RGB8) and `dir/depths/NNNN.png` (16-bit gray,
 * millimetres, 0 = invalid) and returns how many files it wrote (2 per scene).
 *
 * @example
 * ```ts
 * import { DepthFolder, generateDepthDataset } from "@tessera/data";
 * await generateDepthDataset("/tmp/depth", { count: 16, size: 64, seed: 0 });
 * const ds = await DepthFolder.open("/tmp/depth"); // depth in metres, 0 = invalid
 * ```
 */
export async function generateDepthDataset(
  dir: string,
  opts: DepthScenesOptions = {},
): Promise<{ files: number }> {
  const count = checkCount("count", opts.count ?? 64, 1);
  const size = checkCount("size", opts.size ?? 64, 4);
  const seed = opts.seed ?? 0;
  const digits = Math.max(4, String(count - 1).length);
  let files = 0;
  for (let i = 0; i < count; i++) {
    // One stream per scene: scene i is the same whatever `count` is.
    const scene = randomScene(Rng.derive(seed, i));
    const { image, depth } = renderScene(scene, size);
    const name = `${String(i).padStart(digits, "0")}.png`;
    await writeImage(join(dir, "images", name), image);
    await writeImage(join(dir, "depths", name), depth);
    files += 2;
  }
  return { files };
}

function checkCount(name: string, v: number, min: number): number {
  if (!(Number.isInteger(v) && v >= min)) {
    throw new RangeError(`generateDepthDataset: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
  return v;
}

function normalize(v: [number, number, number]): [number, number, number] {
  const n = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / n, v[1] / n, v[2] / n];
}

/** A saturated colour from a random hue (HSV with s, v in a pleasant range). */
function randomColor(rng: Rng): [number, number, number] {
  const h = rng.uniform(0, 6);
  const s = rng.uniform(0.45, 0.85);
  const v = rng.uniform(0.65, 0.95);
  const c = v * s;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const m = v - c;
  const k = Math.floor(h);
  const [r, g, b] =
    k === 0
      ? [c, x, 0]
      : k === 1
        ? [x, c, 0]
        : k === 2
          ? [0, c, x]
          : k === 3
            ? [0, x, c]
            : k === 4
              ? [x, 0, c]
              : [c, 0, x];
  return [r + m, g + m, b + m];
}

function randomScene(rng: Rng): Scene {
  const camY = rng.uniform(1.2, 2.2);
  const pitch = rng.uniform(0.12, 0.4); // radians below the horizon
  const f = normalize([0, -Math.sin(pitch), Math.cos(pitch)]);
  const r: [number, number, number] = [1, 0, 0];
  // u = f × r: perpendicular to both, pointing up (positive y) for a camera looking down a little.
  const u = normalize([f[1] * r[2] - f[2] * r[1], f[2] * r[0] - f[0] * r[2], f[0] * r[1] - f[1] * r[0]]);
  const tanHalfFov = Math.tan((rng.uniform(50, 65) * Math.PI) / 360);
  const sunAz = rng.uniform(0, 2 * Math.PI);
  const sunEl = rng.uniform(0.5, 1.2);
  const sun = normalize([
    Math.cos(sunAz) * Math.cos(sunEl),
    Math.sin(sunEl),
    Math.sin(sunAz) * Math.cos(sunEl),
  ]);
  const g = rng.uniform(0.45, 0.7);
  const ground: [number, number, number] = [g * rng.uniform(0.85, 1.1), g, g * rng.uniform(0.7, 1)];

  const n = 2 + rng.int(4);
  const objects: SceneObject[] = [];
  for (let i = 0; i < n; i++) {
    const z = rng.uniform(2.5, 11);
    // Keep objects roughly within the horizontal field of view at their distance.
    const x = rng.uniform(-0.8, 0.8) * z * tanHalfFov;
    const color = randomColor(rng);
    if (rng.random() < 0.5) {
      const radius = rng.uniform(0.3, 1.1);
      objects.push({
        kind: SPHERE,
        cx: x,
        cy: radius,
        cz: z,
        rx: radius,
        ry: radius,
        rz: radius,
        cos: 1,
        sin: 0,
        color,
      });
    } else {
      const hx = rng.uniform(0.25, 0.9);
      const hy = rng.uniform(0.25, 1.2);
      const hz = rng.uniform(0.25, 0.9);
      const yaw = rng.uniform(0, Math.PI / 2);
      objects.push({
        kind: BOX,
        cx: x,
        cy: hy,
        cz: z,
        rx: hx,
        ry: hy,
        rz: hz,
        cos: Math.cos(yaw),
        sin: Math.sin(yaw),
        color,
      });
    }
  }
  return { camY, f, r, u, tanHalfFov, sun, ground, objects };
}

// Scratch for the box slab test (origin, direction, half extents per axis): no allocation per ray.
const BOX_P = new Float64Array(3);
const BOX_D = new Float64Array(3);
const BOX_H = new Float64Array(3);

/** Nearest hit of a ray with one object: distance t (Infinity if none) and the normal into `n`. */
function intersect(
  o: SceneObject,
  ox: number,
  oy: number,
  oz: number,
  dx: number,
  dy: number,
  dz: number,
  n: Float64Array,
): number {
  const px = ox - o.cx;
  const py = oy - o.cy;
  const pz = oz - o.cz;
  if (o.kind === SPHERE) {
    const b = px * dx + py * dy + pz * dz;
    const c = px * px + py * py + pz * pz - o.rx * o.rx;
    const disc = b * b - c;
    if (disc < 0) return Number.POSITIVE_INFINITY;
    const s = Math.sqrt(disc);
    let t = -b - s;
    if (t < 1e-4) t = -b + s;
    if (t < 1e-4) return Number.POSITIVE_INFINITY;
    n[0] = (px + t * dx) / o.rx;
    n[1] = (py + t * dy) / o.rx;
    n[2] = (pz + t * dz) / o.rx;
    return t;
  }
  // Box: into its frame (yaw about y), then the slab test.
  const lx = o.cos * px + o.sin * pz;
  const lz = -o.sin * px + o.cos * pz;
  const ldx = o.cos * dx + o.sin * dz;
  const ldz = -o.sin * dx + o.cos * dz;
  let tNear = Number.NEGATIVE_INFINITY;
  let tFar = Number.POSITIVE_INFINITY;
  let axis = 0;
  let sign = 1;
  BOX_P[0] = lx;
  BOX_P[1] = py;
  BOX_P[2] = lz;
  BOX_D[0] = ldx;
  BOX_D[1] = dy;
  BOX_D[2] = ldz;
  BOX_H[0] = o.rx;
  BOX_H[1] = o.ry;
  BOX_H[2] = o.rz;
  for (let a = 0; a < 3; a++) {
    const pa = BOX_P[a] as number;
    const da = BOX_D[a] as number;
    const ha = BOX_H[a] as number;
    if (Math.abs(da) < 1e-12) {
      if (pa < -ha || pa > ha) return Number.POSITIVE_INFINITY;
      continue;
    }
    let t1 = (-ha - pa) / da;
    let t2 = (ha - pa) / da;
    let s = -1;
    if (t1 > t2) {
      const tmp = t1;
      t1 = t2;
      t2 = tmp;
      s = 1;
    }
    if (t1 > tNear) {
      tNear = t1;
      axis = a;
      sign = s;
    }
    if (t2 < tFar) tFar = t2;
    if (tNear > tFar) return Number.POSITIVE_INFINITY;
  }
  if (tFar < 1e-4 || tNear < 1e-4) return Number.POSITIVE_INFINITY;
  // Normal in the box frame, rotated back to the world.
  const nlx = axis === 0 ? sign : 0;
  const nly = axis === 1 ? sign : 0;
  const nlz = axis === 2 ? sign : 0;
  n[0] = o.cos * nlx - o.sin * nlz;
  n[1] = nly;
  n[2] = o.sin * nlx + o.cos * nlz;
  return tNear;
}

/** Whether anything blocks the way from a point towards the sun. */
function inShadow(scene: Scene, x: number, y: number, z: number, n: Float64Array): boolean {
  const [sx, sy, sz] = scene.sun;
  for (const o of scene.objects) {
    if (intersect(o, x, y, z, sx, sy, sz, n) < Number.POSITIVE_INFINITY) return true;
  }
  return false;
}

function renderScene(scene: Scene, size: number): { image: DecodedImage; depth: DecodedImage } {
  const rgb = new Uint8Array(size * size * 3);
  const depth = new Uint16Array(size * size);
  const n = new Float64Array(3);
  const scratch = new Float64Array(3);
  const { f, r, u, camY, sun, ground } = scene;
  const color = new Float64Array(3);
  for (let py = 0; py < size; py++) {
    const v = (1 - (2 * (py + 0.5)) / size) * scene.tanHalfFov;
    for (let px = 0; px < size; px++) {
      const h = ((2 * (px + 0.5)) / size - 1) * scene.tanHalfFov;
      let dx = f[0] + h * r[0] + v * u[0];
      let dy = f[1] + h * r[1] + v * u[1];
      let dz = f[2] + h * r[2] + v * u[2];
      const len = Math.sqrt(dx * dx + dy * dy + dz * dz);
      dx /= len;
      dy /= len;
      dz /= len;

      // Nearest surface: the objects, then the ground plane y = 0.
      let t = Number.POSITIVE_INFINITY;
      let hit: SceneObject | undefined;
      let nx = 0;
      let ny = 1;
      let nz = 0;
      for (const o of scene.objects) {
        const to = intersect(o, 0, camY, 0, dx, dy, dz, scratch);
        if (to < t) {
          t = to;
          hit = o;
          nx = scratch[0] as number;
          ny = scratch[1] as number;
          nz = scratch[2] as number;
        }
      }
      const tGround = dy < 0 ? -camY / dy : Number.POSITIVE_INFINITY;
      if (tGround < t) {
        t = tGround;
        hit = undefined;
        nx = 0;
        ny = 1;
        nz = 0;
      }

      // Sky: brighter towards the horizon.
      const skyT = Math.max(0, Math.min(1, dy * 2 + 0.3));
      const skyR = 0.85 - 0.45 * skyT;
      const skyG = 0.9 - 0.3 * skyT;
      const skyB = 1.0 - 0.05 * skyT;

      const zDepth = t * (dx * f[0] + dy * f[1] + dz * f[2]);
      if (Number.isFinite(t) && zDepth <= MAX_DEPTH_M) {
        const hx = t * dx;
        const hy = camY + t * dy;
        const hz = t * dz;
        if (hit) {
          color[0] = hit.color[0];
          color[1] = hit.color[1];
          color[2] = hit.color[2];
        } else {
          // A 1 m checkerboard gives the ground texture gradients, a strong monocular depth cue.
          const check = (Math.floor(hx) + Math.floor(hz)) & 1 ? 0.82 : 1;
          color[0] = ground[0] * check;
          color[1] = ground[1] * check;
          color[2] = ground[2] * check;
        }
        const lambert = Math.max(0, nx * sun[0] + ny * sun[1] + nz * sun[2]);
        const lit =
          lambert > 0 && inShadow(scene, hx + nx * 1e-3, hy + ny * 1e-3, hz + nz * 1e-3, n) ? 0 : lambert;
        const shade = 0.28 + 0.72 * lit;
        // Haze towards the sky colour with distance, so far surfaces fade like in a photo.
        const fog = Math.min(1, zDepth / (MAX_DEPTH_M * 1.4)) ** 1.5;
        color[0] = (color[0] as number) * shade * (1 - fog) + skyR * fog;
        color[1] = (color[1] as number) * shade * (1 - fog) + skyG * fog;
        color[2] = (color[2] as number) * shade * (1 - fog) + skyB * fog;
        depth[py * size + px] = Math.max(1, Math.min(65535, Math.round(zDepth * 1000)));
      } else {
        color[0] = skyR;
        color[1] = skyG;
        color[2] = skyB;
      }
      const o = (py * size + px) * 3;
      for (let c = 0; c < 3; c++) {
        const val = color[c] as number;
        rgb[o + c] = val <= 0 ? 0 : val >= 1 ? 255 : Math.round(val * 255);
      }
    }
  }
  return {
    image: { width: size, height: size, channels: 3, bitDepth: 8, data: rgb },
    depth: { width: size, height: size, channels: 1, bitDepth: 16, data: depth },
  };
}
