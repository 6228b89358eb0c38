import { describe, expect, it } from "vitest";
import {
  FONT_ADVANCE,
  FONT_HEIGHT,
  FONT_WIDTH,
  glyphColumns,
  hasGlyph,
  textWidth,
} from "../src/plot/font.js";

describe("bitmap font", () => {
  it("has a distinct, non-blank glyph for every printable ASCII character", () => {
    const seen = new Map<string, string>();
    for (let code = 33; code <= 126; code++) {
      const ch = String.fromCharCode(code);
      expect(hasGlyph(ch)).toBe(true);
      const cols = glyphColumns(ch);
      expect(cols.length).toBe(FONT_WIDTH);
      expect(cols.some((c) => c !== 0)).toBe(true);
      const key = Array.from(cols).join(",");
      expect(seen.get(key), `${ch} looks like ${seen.get(key)}`).toBeUndefined();
      seen.set(key, ch);
    }
    expect(Array.from(glyphColumns(" "))).toEqual([0, 0, 0, 0, 0]);
  });

  it("keeps glyph pixels inside the cell and draws unknown characters as '?'", () => {
    for (let code = 32; code <= 126; code++) {
      for (const c of glyphColumns(String.fromCharCode(code))) expect(c).toBeLessThan(1 << FONT_HEIGHT);
    }
    expect(hasGlyph("é")).toBe(false);
    expect(Array.from(glyphColumns("é"))).toEqual(Array.from(glyphColumns("?")));
  });

  it("measures text as advance × length minus the trailing gap, times scale", () => {
    expect(textWidth("")).toBe(0);
    expect(textWidth("a")).toBe(FONT_WIDTH);
    expect(textWidth("loss", 2)).toBe((4 * FONT_ADVANCE - 1) * 2);
  });
});
