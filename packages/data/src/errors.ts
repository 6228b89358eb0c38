/** A data problem a user can act on: a corrupt or mismatched file, a wrong format. Names the file. */
export class DataError extends Error {
  override name = "DataError";
  /** The file at fault, when there is one. */
  readonly path: string | undefined;

  constructor(message: string, path?: string, options?: { cause?: unknown }) {
    super(path === undefined ? message : `${path}: ${message}`, options);
    this.path = path;
  }
}
