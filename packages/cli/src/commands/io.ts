/** What every command gets: where to print, whether that is a terminal, and flag parsers. */
import { CliError } from "../errors.js";

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  isTTY: boolean;
  /** Install a SIGINT handler while training (the bin does; tests use an AbortSignal instead). */
  handleSignals: boolean;
  out(line: string): void;
  err(line: string): void;
  exitCode: number;
}

/**
 * An integer flag, or undefined when absent; `min` is the smallest value allowed (default 1).
 *
 * @example
 * intFlag("--epochs", "8"); // 8
 */
export function intFlag(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new CliError(
      `${name} must be an integer ≥ ${min}, got '${value}'`,
      `e.g. ${name} ${Math.max(min, 8)}`,
    );
  }
  return n;
}

/**
 * A number flag, or undefined when absent; must be > 0, or ≥ `min` when given.
 *
 * @example
 * floatFlag("--lr", "3e-4"); // 0.0003
 */
export function floatFlag(name: string, value: string | undefined, min?: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || (min === undefined ? n <= 0 : n < min)) {
    throw new CliError(
      `${name} must be a number ${min === undefined ? "> 0" : `≥ ${min}`}, got '${value}'`,
      `e.g. ${name} ${name === "--lr" ? "1e-3" : "0.1"}`,
    );
  }
  return n;
}
