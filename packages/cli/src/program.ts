/**
 * The `tessera` program: commander with `exitOverride`, so the whole CLI runs as a function that
 * returns an exit code (tests call it; the bin passes the code to the process). Errors a user can
 * act on print `tessera: <message>` and what to do next, with exit code 1 and no stack trace.
 */
import { DataError } from "@tessera/data";
import { Command, CommanderError } from "commander";
import { addAttentionCommand } from "./commands/attention.js";
import { addBenchCommand } from "./commands/bench.js";
import { addEvalCommand } from "./commands/eval.js";
import { addGenerateCommand } from "./commands/generate.js";
import { addInfoCommand, cliVersion } from "./commands/info.js";
import type { Io } from "./commands/io.js";
import { addPredictCommand } from "./commands/predict.js";
import { addTrainCommand } from "./commands/train.js";
import { CliError } from "./errors.js";

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Whether stdout is a terminal (a live progress line); default `stdout.isTTY`. */
  isTTY?: boolean;
  /** Install a SIGINT handler during training (default false; the bin sets it). */
  handleSignals?: boolean;
}

/**
 * Runs the CLI on `argv` (the arguments after `tessera`) and returns the exit code.
 *
 * @example
 * const code = await runCli(["train", "minivit", "--epochs", "1", "--limit", "256"]);
 */
export async function runCli(argv: string[], cliIo?: CliIo): Promise<number> {
  const stdout = cliIo?.stdout ?? process.stdout;
  const stderr = cliIo?.stderr ?? process.stderr;
  const io: Io = {
    stdout,
    stderr,
    isTTY: cliIo?.isTTY ?? (stdout as NodeJS.WriteStream).isTTY === true,
    handleSignals: cliIo?.handleSignals ?? false,
    out: (line) => stdout.write(`${line}\n`),
    err: (line) => stderr.write(`${line}\n`),
    exitCode: 0,
  };
  const program = new Command("tessera")
    .description("train, evaluate, predict and look at the attention of Tessera's transformer models")
    .version(cliVersion(), "-v, --version")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => stdout.write(s),
      writeErr: (s) => stderr.write(s),
      outputError: (s, write) => write(s.startsWith("error:") ? `tessera: ${s.slice(7)}` : s),
    });
  addTrainCommand(program, io);
  addEvalCommand(program, io);
  addPredictCommand(program, io);
  addAttentionCommand(program, io);
  addInfoCommand(program, io);
  addBenchCommand(program, io);
  addGenerateCommand(program, io);
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv, { from: "user" });
    return io.exitCode;
  } catch (e) {
    return report(e, io);
  }
}

function report(e: unknown, io: Io): number {
  if (e instanceof CommanderError) {
    // Help and --version end with code 0; usage mistakes were already printed by commander.
    return e.exitCode === 0 || e.code === "commander.helpDisplayed" || e.code === "commander.version" ? 0 : 1;
  }
  if (e instanceof CliError) {
    io.err(`tessera: ${e.message}`);
    if (e.hint) io.err(`  ${e.hint}`);
    return 1;
  }
  if (e instanceof DataError) {
    io.err(`tessera: ${e.message}`);
    io.err(
      e.path
        ? "  check or replace that file (is it complete, and in the format its name says?)"
        : "  check the data you pointed to",
    );
    return 1;
  }
  const err = e as Error;
  io.err(`tessera: ${err?.message ?? String(e)}`);
  if (process.env.TESSERA_DEBUG) io.err(err?.stack ?? "");
  else io.err("  if this looks like a bug, run again with TESSERA_DEBUG=1 and report the stack trace");
  return 1;
}
