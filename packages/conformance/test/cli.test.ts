import { getGradRule, registerGradRule } from "@tessera/autograd";
import { describe, expect, it } from "vitest";
import { main, parseArgs } from "../src/cli.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe("tessera-conformance", () => {
  it("support prints the Markdown table from declared capabilities", async () => {
    const c = capture();
    expect(await main(["support", "js", "js-primitives"], c.io)).toBe(0);
    const text = c.out.join("\n");
    expect(text).toContain("| | `js` | `js-primitives` |");
    expect(text).toContain("| `softmax` | fused | composite |");
    expect(text).toContain("| dtype `bfloat16` | ✓ | ✓ |");
  });

  it("test runs the selected cases, prints the summary and exits 0 when they pass", async () => {
    const c = capture();
    expect(await main(["test", "js", "--case", "unary.neg,binary.add[float32]", "--runs", "5"], c.io)).toBe(
      0,
    );
    const text = c.out.join("\n");
    expect(text).toMatch(/conformance: js vs js-reference, seed \d+, 5 runs per case/);
    expect(text).toContain("| unary | primitive |");
    expect(text).toMatch(/\d+ passed, 0 failed, 0 unsupported, 0 unavailable/);
  });

  it("perf prints a timing row per case", async () => {
    const c = capture();
    expect(
      await main(
        ["perf", "js-primitives", "--case", "softmax[float32]", "--samples", "3", "--repeats", "1"],
        c.io,
      ),
    ).toBe(0);
    expect(c.out.join("\n")).toMatch(/\| softmax\[float32\] \| composite \| [\d.]+ \| [\d.]+ \| [\d.]+× \|/);
  });

  it("torch checks a backend against every shipped PyTorch golden op case", async () => {
    const c = capture();
    expect(await main(["torch", "js-primitives"], c.io)).toBe(0);
    expect(c.out.join("\n")).toMatch(/torch goldens on 'js-primitives': (\d+) passed, 0 failed/);
    const passed = Number(/(\d+) passed/.exec(c.out.join("\n"))![1]);
    expect(passed).toBe(99 + 86); // fixtures/torch and fixtures/torch-edge
  });

  it("grad runs the selected gradient cases on a backend and prints the summary", async () => {
    const c = capture();
    const code = await main(
      ["grad", "--backend", "js-primitives", "--cases", "^grad\\.(reshape|permute)$", "--runs", "3"],
      c.io,
    );
    const text = c.out.join("\n");
    expect(text).toMatch(
      /grad conformance: js-primitives \(float32\) vs js \(float64\).*seed \d+, 3 runs per case/,
    );
    expect(text).toMatch(/(\d+) cases: \1 passed, 0 failed, 0 unsupported/);
    expect(code).toBe(0);
  });

  it("grad exits 1 on a failing case and prints a replay line that pastes back", async () => {
    // permute's rule, with every gradient doubled.
    const original = getGradRule("permute")!;
    registerGradRule("permute", {
      ...original,
      backward: (g, ctx) => original.backward(g, ctx).map((t) => t?.mul(2)),
    });
    try {
      const c = capture();
      expect(await main(["grad", "js", "--cases", "^grad\\.(reshape|permute)$", "--runs", "5"], c.io)).toBe(
        1,
      );
      const text = c.out.join("\n");
      expect(text).toMatch(/2 cases: 1 passed, 1 failed, 0 unsupported/);
      const replay =
        /tessera-conformance grad --backend js (TESSERA_CONFORMANCE_SEED=\d+ case=grad\.permute path=\S+)/.exec(
          text,
        );
      expect(replay, text).not.toBeNull();
      const again = capture();
      expect(await main(["grad", "--backend", "js", ...replay![1]!.split(" ")], again.io)).toBe(1);
      expect(again.out.join("\n")).toMatch(/1 case: 0 passed, 1 failed/);
    } finally {
      registerGradRule("permute", original);
    }
  });

  it("unknown modes and backends are usage errors", async () => {
    const c = capture();
    expect(await main(["frobnicate"], c.io)).toBe(2);
    expect(await main(["test", "no-such-backend"], c.io)).toBe(2);
    expect(c.err.join("\n")).toContain("backend 'no-such-backend' is not registered");
    expect(await main(["grad", "--backend", "no-such-backend"], c.io)).toBe(2);
    expect(await main(["grad", "--cases", "("], c.io)).toBe(2);
  });

  it("replay lines paste as arguments", () => {
    const a = parseArgs(["test", "js", "TESSERA_CONFORMANCE_SEED=17", "case=softmax[float32]", "path=3:1:0"]);
    expect(a.mode).toBe("test");
    expect(a.positional).toEqual(["js"]);
    expect(a.flags.get("seed")).toEqual(["17"]);
    expect(a.flags.get("case")).toEqual(["softmax[float32]"]);
    expect(a.flags.get("path")).toEqual(["3:1:0"]);
  });
});
