/** Usage mistakes commander catches (unknown option, missing argument) also read `tessera: …`, exit 1. */
import { Writable } from "node:stream";
import { expect, it } from "vitest";
import { runCli } from "../src/index.js";

async function cli(argv: string[]): Promise<{ code: number; err: string }> {
  let err = "";
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const stderr = new Writable({
    write(c, _e, cb) {
      err += c.toString();
      cb();
    },
  });
  const code = await runCli(argv, { stdout: sink, stderr, isTTY: false });
  return { code, err };
}

it("an unknown option and a missing argument print tessera: and exit 1", async () => {
  const a = await cli(["train", "minivit", "--epoch", "3"]);
  expect(a.code).toBe(1);
  expect(a.err).toMatch(/^tessera: unknown option '--epoch'/);
  const b = await cli(["predict"]);
  expect(b.code).toBe(1);
  expect(b.err).toMatch(/^tessera: missing required argument 'run'/);
});
