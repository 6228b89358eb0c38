import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { addGenerateCommand } from "../src/commands/generate.js";
import type { Io } from "../src/commands/io.js";
import { CliError } from "../src/errors.js";

const root = await mkdtemp(join(tmpdir(), "tessera-generate-"));
afterAll(() => rm(root, { recursive: true, force: true }));

/** Runs `tessera generate …` on a fresh program; returns the printed lines, or throws what the command threw. */
async function generate(...args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const io: Io = {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: false,
    handleSignals: false,
    out: (l) => lines.push(l),
    err: (l) => lines.push(l),
    exitCode: 0,
  };
  const program = new Command("tessera")
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  addGenerateCommand(program, io);
  for (const c of program.commands) c.exitOverride();
  await program.parseAsync(["generate", ...args], { from: "user" });
  return lines;
}

describe("tessera generate", () => {
  it("shapes: writes count × frames PNGs and says where and how to train on them", async () => {
    const out = join(root, "shapes");
    const lines = await generate(
      "shapes",
      "--out",
      out,
      "--count",
      "2",
      "--frames",
      "3",
      "--size",
      "16",
      "--seed",
      "4",
    );
    expect(lines[0]).toMatch(/^wrote 6 frames \(2 sequences × 3 frames, 16×16 grayscale PNG, seed 4\)/);
    expect(lines.join("\n")).toContain(`tessera train autoencoder --data ${out}`);
    expect((await readdir(out)).sort()).toEqual(["seq_000", "seq_001"]);
  });

  it("depth: writes images/ and depths/ with one pair per scene", async () => {
    const out = join(root, "depth");
    const lines = await generate("depth", "--out", out, "--count", "3", "--size", "8");
    expect(lines[0]).toMatch(/^wrote 3 scenes \(6 files/);
    expect(await readdir(join(out, "depths"))).toHaveLength(3);
    expect(lines.join("\n")).toContain(`tessera train depth --data ${out}`);
  });

  it("text: writes corpus.tsv in a folder, or the .tsv file named", async () => {
    const lines = await generate("text", "--out", join(root, "text"), "--count", "5");
    expect(lines[0]).toContain("wrote 20 sentences");
    expect(
      (await readFile(join(root, "text", "corpus.tsv"), "utf8")).split("\n").filter((l) => l.includes("\t")),
    ).toHaveLength(20);
    await generate("text", "--out", join(root, "named.tsv"), "--count", "2", "--seed", "1");
    expect(await readFile(join(root, "named.tsv"), "utf8")).toContain("\t");
  });

  it("refuses a non-empty folder, options that do not apply, and unknown kinds", async () => {
    const used = join(root, "used");
    await generate("depth", "--out", used, "--count", "1", "--size", "8");
    await expect(generate("depth", "--out", used)).rejects.toThrow(/not empty/);
    await expect(generate("depth", "--out", join(root, "d2"), "--frames", "3")).rejects.toThrow(
      /--frames applies to shapes only/,
    );
    await expect(generate("text", "--out", join(root, "t2"), "--size", "3")).rejects.toThrow(CliError);
    await expect(generate("shapes", "--out", join(root, "s2"), "--count", "0")).rejects.toThrow(
      /--count must be an integer ≥ 1/,
    );
    await expect(generate("music", "--out", join(root, "m"))).rejects.toThrow(/invalid/i);
    await expect(generate("shapes")).rejects.toThrow(/--out/);
    await writeFile(join(root, "plain"), "x");
    await expect(generate("text", "--out", join(root, "plain"))).rejects.toThrow(/without a .tsv/);
  });
});
