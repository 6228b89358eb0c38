import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gradStatus } from "@tessera/autograd";
import { tracedOpNames } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { GRAD_CATALOGUE } from "../src/grad/cases/index.js";

const DOC = fileURLToPath(new URL("../../../docs/autograd.md", import.meta.url));
const BEGIN = "<!-- grad-status:begin -->";
const END = "<!-- grad-status:end -->";

/** Ops whose gradient is tested outside the catalogue, with where. */
const TESTED_ELSEWHERE: Record<string, string> = {
  to: "moves between backends, which a one-backend grad case cannot; packages/autograd/test/autograd.test.ts",
};

function statusTable(): string {
  const rows = tracedOpNames().map((op) => {
    const status = gradStatus(op) ?? "MISSING";
    // Op variants: the float32 cases (their float16/bfloat16 variants are listed in docs/backends.md).
    const cases = GRAD_CATALOGUE.filter((c) => c.ops.includes(op) && c.dtype === undefined).map(
      (c) => c.name,
    );
    const fused = GRAD_CATALOGUE.some((c) => c.ops.includes(op) && c.fused) ? "yes" : "";
    const where =
      status === "non-differentiable"
        ? "—"
        : cases.length > 0
          ? `${cases.length}`
          : (TESTED_ELSEWHERE[op] ?? "NONE");
    return `| \`${op}\` | ${status} | ${where} | ${fused} |`;
  });
  return [
    "| op | gradient | grad cases | fused vs composite checked |",
    "| --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}

describe("gradient coverage", () => {
  it("every traced op of core has a gradient status", () => {
    const missing = tracedOpNames().filter((op) => gradStatus(op) === undefined);
    expect(missing, "ops with no rule, composite or non-differentiable declaration").toEqual([]);
  });

  it("every differentiable op has at least one gradient case", () => {
    const uncovered = tracedOpNames().filter(
      (op) =>
        gradStatus(op) !== "non-differentiable" &&
        !(op in TESTED_ELSEWHERE) &&
        !GRAD_CATALOGUE.some((c) => c.ops.includes(op)),
    );
    expect(uncovered).toEqual([]);
  });

  it("grad case names are unique", () => {
    const names = GRAD_CATALOGUE.map((c) => c.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it("docs/autograd.md carries the current status table (UPDATE_DOCS=1 rewrites it)", () => {
    const doc = readFileSync(DOC, "utf8");
    const start = doc.indexOf(BEGIN);
    const end = doc.indexOf(END);
    expect(start).toBeGreaterThan(-1);
    const want = `${BEGIN}\n\n${statusTable()}\n\n${END}`;
    if (process.env.UPDATE_DOCS === "1") {
      writeFileSync(DOC, doc.slice(0, start) + want + doc.slice(end + END.length));
      return;
    }
    expect(
      doc.slice(start, end + END.length),
      "run UPDATE_DOCS=1 pnpm --filter @tessera/conformance exec vitest run test/grad-coverage.test.ts",
    ).toBe(want);
  });
});
