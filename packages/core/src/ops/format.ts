/**
 * Printing tensors the way PyTorch does (torch/_tensor_str.py with default print options: precision 4,
 * linewidth 80, threshold 1000, edgeitems 3), so output can be compared with a Python session by eye.
 *
 * The dtype suffix: torch omits it for its default dtypes (float32, int64, bool). Here int32 plays int64's
 * role (indices, labels, sums of integers), so `dtype=` is omitted for float32, int32 and bool and shown for
 * float64, float16 and bfloat16. As in torch, an empty tensor shows its dtype unless it is float32.
 */
import type { DataArray, DType } from "../dtype.js";
import { getBackend } from "../engine.js";
import { fmtShape } from "../shape.js";
import { Tensor } from "../tensor.js";
import { cat } from "./manipulation.js";

const PRECISION = 4;
const LINEWIDTH = 80;
const THRESHOLD = 1000;
const EDGEITEMS = 3;
const PREFIX = "tensor(";

/** Python's `{:.Nf}` / `{:.Ne}` spelling of non-finite values and -0. */
function special(v: number): string | null {
  if (Number.isNaN(v)) return "nan";
  if (v === Number.POSITIVE_INFINITY) return "inf";
  if (v === Number.NEGATIVE_INFINITY) return "-inf";
  return null;
}

function fixed(v: number, digits: number): string {
  const s = special(v) ?? v.toFixed(digits);
  return Object.is(v, -0) ? `-${s}` : s;
}

/** Python's `{:.4e}`: the exponent has at least two digits. */
function exponential(v: number): string {
  const s = special(v) ?? v.toExponential(PRECISION).replace(/e([+-])(\d)$/, "e$10$2");
  return Object.is(v, -0) ? `-${s}` : s;
}

/** torch's _Formatter: picks integer, fixed or scientific notation and a common width from the values shown. */
class Formatter {
  private readonly floating: boolean;
  private readonly bool: boolean;
  private intMode = true;
  private sciMode = false;
  private maxWidth = 1;

  constructor(dtype: DType, values: DataArray) {
    this.bool = dtype === "bool";
    this.floating = !this.bool && dtype !== "int32";
    if (!this.floating) {
      for (let i = 0; i < values.length; i++)
        this.maxWidth = Math.max(this.maxWidth, this.plain(values[i]!).length);
      return;
    }
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    let any = false;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v === 0 || !Number.isFinite(v)) continue;
      any = true;
      const a = Math.abs(v);
      if (a < min) min = a;
      if (a > max) max = a;
      if (v !== Math.ceil(v)) this.intMode = false;
    }
    if (!any) return;
    this.sciMode = max / min > 1000 || max > 1e8 || (!this.intMode && min < 1e-4);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v === 0 || !Number.isFinite(v)) continue;
      const len = this.sciMode
        ? exponential(v).length
        : this.intMode
          ? fixed(v, 0).length + 1
          : fixed(v, PRECISION).length;
      if (len > this.maxWidth) this.maxWidth = len;
    }
  }

  get width(): number {
    return this.maxWidth;
  }

  private plain(v: number): string {
    return this.bool ? (v ? "True" : "False") : String(v);
  }

  format(v: number): string {
    let s: string;
    if (!this.floating) s = this.plain(v);
    else if (this.sciMode) s = exponential(v);
    else if (this.intMode) s = Number.isFinite(v) ? `${fixed(v, 0)}.` : fixed(v, 0);
    else s = fixed(v, PRECISION);
    return s.length < this.maxWidth ? " ".repeat(this.maxWidth - s.length) + s : s;
  }
}

/**
 * What gets printed: the tensor itself, or (above the threshold) its first and last EDGEITEMS along every
 * longer dim, with `cut[d]` marking the dims where "..." goes between them.
 */
function summarize(t: Tensor): { shown: Tensor; cut: boolean[] } {
  const cut = t.shape.map(() => false);
  if (t.size <= THRESHOLD) return { shown: t.asStrided(t.shape, t.strides), cut };
  let shown = t.asStrided(t.shape, t.strides);
  for (let d = 0; d < t.rank; d++) {
    const n = t.shape[d]!;
    if (n <= 2 * EDGEITEMS) continue;
    cut[d] = true;
    const head = shown.narrow(d, 0, EDGEITEMS);
    const tail = shown.narrow(d, n - EDGEITEMS, EDGEITEMS);
    const next = cat([head, tail], d);
    for (const x of [head, tail, shown]) x.dispose();
    shown = next;
  }
  return { shown, cut };
}

/** torch's _tensor_str_with_formatter over row-major `data` of `shape`. */
function render(data: DataArray, shape: readonly number[], cut: readonly boolean[], fmt: Formatter): string {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  const walk = (d: number, base: number, indent: number): string => {
    const n = shape[d]!;
    const dim = shape.length - d;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      if (cut[d] && i === EDGEITEMS) parts.push(dim === 1 ? " ..." : "...");
      parts.push(dim === 1 ? fmt.format(data[base + i]!) : walk(d + 1, base + i * strides[d]!, indent + 1));
    }
    if (dim > 1) return `[${parts.join(`,${"\n".repeat(dim - 1)}${" ".repeat(indent + 1)}`)}]`;
    const perLine = Math.max(1, Math.floor((LINEWIDTH - indent) / (fmt.width + 2)));
    const lines: string[] = [];
    for (let i = 0; i < parts.length; i += perLine) lines.push(parts.slice(i, i + perLine).join(", "));
    return `[${lines.join(`,\n${" ".repeat(indent + 1)}`)}]`;
  };
  if (shape.length === 0) return fmt.format(data[0]!);
  return walk(0, 0, PREFIX.length);
}

/** torch's _add_suffixes: ", suffix" on the last line while it fits in LINEWIDTH, else on a new line. */
function withSuffixes(body: string, suffixes: readonly string[]): string {
  let out = body;
  let lastLine = body.length - body.lastIndexOf("\n") + 1;
  for (const s of suffixes) {
    if (lastLine + s.length + 2 > LINEWIDTH) {
      out += `,\n${" ".repeat(PREFIX.length)}${s}`;
      lastLine = PREFIX.length + s.length;
    } else {
      out += `, ${s}`;
      lastLine += s.length + 2;
    }
  }
  return `${out})`;
}

function describe(t: Tensor, why = ""): string {
  return `Tensor(shape=${fmtShape(t.shape)}, dtype=${t.dtype}, backend=${t.backendName}${why})`;
}

function suffixesOf(t: Tensor): string[] {
  const suffixes: string[] = [];
  if (t.size === 0) {
    if (t.rank !== 1) suffixes.push(`size=(${t.shape.join(", ")})`);
    if (t.dtype !== "float32") suffixes.push(`dtype=${t.dtype}`);
  } else if (t.dtype !== "float32" && t.dtype !== "int32" && t.dtype !== "bool") {
    suffixes.push(`dtype=${t.dtype}`);
  }
  // torch shows device= off the default device; the analogue here is a backend other than the active one.
  let active: string | undefined;
  try {
    active = getBackend().name;
  } catch {
    active = undefined;
  }
  if (active !== undefined && t.backendName !== active) suffixes.push(`backend='${t.backendName}'`);
  return suffixes;
}

function finish(t: Tensor, shown: Tensor, cut: readonly boolean[], data: DataArray): string {
  return withSuffixes(PREFIX + render(data, shown.shape, cut, new Formatter(t.dtype, data)), suffixesOf(t));
}

/**
 * The tensor printed like PyTorch (`tensor([[1., 2.],\n        [3., 4.]])`). Needs a synchronous read;
 * on a backend without one it returns a one-line description — use `await print(t)` there.
 */
export function formatTensor(t: Tensor): string {
  if (t.isDisposed) return describe(t, ", disposed");
  if (!t.backend.readSync) return describe(t);
  if (t.size === 0) return withSuffixes(`${PREFIX}[]`, suffixesOf(t));
  const { shown, cut } = summarize(t);
  try {
    return finish(t, shown, cut, shown.dataSync());
  } finally {
    shown.dispose();
  }
}

/** Prints `t` like PyTorch on any backend (reads asynchronously). */
export async function print(t: Tensor): Promise<void> {
  if (t.isDisposed || t.size === 0 || t.backend.readSync) {
    console.log(formatTensor(t));
    return;
  }
  const { shown, cut } = summarize(t);
  try {
    console.log(finish(t, shown, cut, await shown.data()));
  } finally {
    shown.dispose();
  }
}

const inspect = Symbol.for("nodejs.util.inspect.custom");

declare module "../tensor.js" {
  interface Tensor {
    toString(): string;
    [inspect](): string;
  }
}

Tensor.prototype.toString = function (this: Tensor) {
  return formatTensor(this);
};
Tensor.prototype[inspect] = function (this: Tensor) {
  return formatTensor(this);
};
