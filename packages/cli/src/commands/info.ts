/** `tessera info`: version, runtime, backends (and why one is unavailable), the shipped dataset. */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { FASHION_MNIST_SUBSET_DIR, IdxImageDataset } from "@tessera/data";
import type { Command } from "commander";
import { backendAvailability } from "../backend-select.js";
import { TASKS } from "../tasks/index.js";
import type { Io } from "./io.js";

/** The CLI's version, from its package.json (src/ and dist/ both sit one level below it). */
export function cliVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    return pkg.version;
  } catch {
    try {
      const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
        version: string;
      };
      return pkg.version;
    } catch {
      return "unknown";
    }
  }
}

/**
 * Adds `info` to the program.
 *
 * @example
 * addInfoCommand(program, io); // tessera info
 */
export function addInfoCommand(program: Command, io: Io): void {
  program
    .command("info")
    .description(
      "show the version, the backends available here (and why one is not), tasks and the shipped dataset",
    )
    .action(async () => {
      io.out(`tessera ${cliVersion()}`);
      io.out(
        `node ${process.versions.node} (${process.platform}-${process.arch}), ${availableParallelism()} CPU threads`,
      );
      io.out("backends (fastest first):");
      for (const b of backendAvailability()) {
        io.out(`  ${b.name.padEnd(7)} ${b.available ? "available  " : "unavailable"}  ${b.detail}`);
      }
      io.out("tasks:");
      for (const t of TASKS) {
        io.out(
          `  ${t.name.padEnd(17)} ${t.description}${t.presets.length ? ` (presets: ${t.presets.join(", ")})` : ""}`,
        );
      }
      let sizes = "";
      try {
        const train = await IdxImageDataset.load({ split: "train" });
        const test = await IdxImageDataset.load({ split: "test" });
        sizes = ` (${train.length} training, ${test.length} test images)`;
      } catch (e) {
        sizes = ` (unreadable: ${(e as Error).message})`;
      }
      io.out(`shipped dataset: Fashion-MNIST subset at ${FASHION_MNIST_SUBSET_DIR}${sizes}`);
    });
}
