/**
 * Ctrl-C during `tessera train`: the step in flight finishes, the checkpoint is saved with the next
 * batch, the message says how to continue, and the exit code is 130; `--resume` then finishes the run.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, expect, it } from "vitest";
import { runCli } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "tessera-sigint-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it("SIGINT saves a mid-epoch checkpoint, exits 130, and --resume completes the run", async () => {
  const out = join(root, "run");
  const args = [
    "train",
    "minivit",
    "--preset",
    "tiny",
    "--limit",
    "256",
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--backend",
    "js",
    "--out",
    out,
  ];
  let text = "";
  let sent = false;
  const stdout = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      // The first progress line of epoch 1 means a step has run: press Ctrl-C then.
      if (!sent && text.includes("epoch 1/2 [")) {
        sent = true;
        process.emit("SIGINT");
      }
      cb();
    },
  });
  let err = "";
  const stderr = new Writable({
    write(chunk, _enc, cb) {
      err += chunk.toString();
      cb();
    },
  });
  const code = await runCli(args, { stdout, stderr, isTTY: false, handleSignals: true });
  expect(code).toBe(130);
  expect(err).toContain("stopping after this step and saving a checkpoint");
  expect(text).toMatch(
    /interrupted: checkpoint saved \(epoch 1, batch \d of 8\); continue with: tessera train minivit --out .* --resume/,
  );
  expect(process.listenerCount("SIGINT")).toBe(0);

  let resumed = "";
  const stdout2 = new Writable({
    write(chunk, _enc, cb) {
      resumed += chunk.toString();
      cb();
    },
  });
  const code2 = await runCli([...args, "--resume"], { stdout: stdout2, stderr, isTTY: false });
  expect(code2).toBe(0);
  expect(resumed).toMatch(/resuming minivit from epoch 1, batch \d of 8/);
  const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
  expect(metrics.epochs).toHaveLength(2);
  expect(metrics.steps).toHaveLength(16);
});
