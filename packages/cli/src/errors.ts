/**
 * A mistake the user can fix (a bad flag, a missing run directory, an unavailable backend). The CLI
 * prints its message and hint as `tessera: <message>` and exits with code 1, without a stack trace.
 */
export class CliError extends Error {
  override name = "CliError";
  /** What to do next, printed on its own line. */
  readonly hint: string | undefined;

  /**
   * @example
   * throw new CliError("--epochs must be a positive integer, got 'x'", "e.g. --epochs 8");
   */
  constructor(message: string, hint?: string) {
    super(message);
    this.hint = hint;
  }
}
