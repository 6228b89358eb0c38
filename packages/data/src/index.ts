export { DataError } from "./errors.js";
export { Rng } from "./rng.js";
export type * from "./types.js";
