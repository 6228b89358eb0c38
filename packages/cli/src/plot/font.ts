/**
 * A built-in 5×8 bitmap font for printable ASCII (32–126), so plots need no font files or native
 * text rendering. Each glyph is 5 columns of 8 bits (bit 0 = top row; capitals use rows 0–6, bit 7
 * holds descenders), stored as 10 hex digits: the classic LCD font layout, compact and easy to check.
 */

/** Glyph cell width in pixels (at scale 1). */
export const FONT_WIDTH = 5;
/** Glyph cell height in pixels (at scale 1), descenders included. */
export const FONT_HEIGHT = 8;
/** Horizontal distance from one glyph to the next (at scale 1): the cell plus a blank column. */
export const FONT_ADVANCE = 6;

const FIRST = 32;
const LAST = 126;

// biome-ignore format: one glyph per entry, in ASCII order from " " (32) to "~" (126)
const GLYPHS = [
  "0000000000", "00005f0000", "0007000700", "147f147f14", "242a7f2a12", "2313086462", "3649562050", "0000070300",
  "001c224100", "0041221c00", "2a1c7f1c2a", "08083e0808", "0080603000", "0808080808", "0000606000", "2010080402",
  "3e5149453e", "00427f4000", "6251494946", "2141494d33", "1814127f10", "2745454539", "3c4a494931", "4121110907",
  "3649494936", "464949291e", "0000240000", "0040340000", "0008142241", "1414141414", "0041221408", "0201590906",
  "3e415d594e", "7c1211127c", "7f49494936", "3e41414122", "7f4141413e", "7f49494941", "7f09090901", "3e41415173",
  "7f0808087f", "00417f4100", "2040413f01", "7f08142241", "7f40404040", "7f021c027f", "7f0408107f", "3e4141413e",
  "7f09090906", "3e4151215e", "7f09192946", "2649494932", "03017f0103", "3f4040403f", "1f2040201f", "3f4038403f",
  "6314081463", "0304780403", "6159494d43", "007f414141", "0204081020", "004141417f", "0402010204", "4040404040",
  "0003070800", "2054547840", "7f28444438", "3844444428", "384444287f", "3854545418", "00087e0902", "18a4a49c78",
  "7f08040478", "00447d4000", "4080847d00", "7f10284400", "00417f4000", "7c04780478", "7c08040478", "3844444438",
  "fc18242418", "18242418fc", "7c08040408", "4854545424", "04043f4424", "3c4040207c", "1c2040201c", "3c4030403c",
  "4428102844", "1ca0a0a07c", "4464544c44", "0008364100", "0000770000", "0041360800", "0201020402",
];

/** All glyph columns, `FONT_WIDTH` bytes per printable ASCII character, decoded once. */
const COLUMNS: Uint8Array = (() => {
  const out = new Uint8Array(GLYPHS.length * FONT_WIDTH);
  for (let g = 0; g < GLYPHS.length; g++) {
    const hex = GLYPHS[g] as string;
    for (let c = 0; c < FONT_WIDTH; c++)
      out[g * FONT_WIDTH + c] = Number.parseInt(hex.slice(2 * c, 2 * c + 2), 16);
  }
  return out;
})();

const QUESTION = "?".charCodeAt(0);

/**
 * The glyph of one character as `FONT_WIDTH` column bytes (bit r set = pixel in row r). Characters
 * outside printable ASCII draw as "?", so a stray "µ" or "…" in a caption is visible, not silent.
 *
 * @example
 * ```ts
 * const cols = glyphColumns("I"); // [0x00, 0x41, 0x7f, 0x41, 0x00]
 * const topMiddle = (cols[2]! & 1) !== 0; // true
 * ```
 */
export function glyphColumns(ch: string): Uint8Array {
  let code = ch.charCodeAt(0);
  if (!(code >= FIRST && code <= LAST)) code = QUESTION;
  const start = (code - FIRST) * FONT_WIDTH;
  return COLUMNS.subarray(start, start + FONT_WIDTH);
}

/**
 * Whether the font has its own glyph for a character (printable ASCII), rather than the "?" fallback.
 *
 * @example
 * ```ts
 * hasGlyph("A"); // true
 * hasGlyph("é"); // false
 * ```
 */
export function hasGlyph(ch: string): boolean {
  const code = ch.charCodeAt(0);
  return code >= FIRST && code <= LAST;
}

/**
 * Width in pixels of `text` drawn at `scale` (no trailing blank column).
 *
 * @example
 * ```ts
 * textWidth("loss", 2); // (4 * 6 - 1) * 2 = 46
 * ```
 */
export function textWidth(text: string, scale = 1): number {
  return text.length === 0 ? 0 : (text.length * FONT_ADVANCE - 1) * scale;
}
