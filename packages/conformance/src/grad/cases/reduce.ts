import type { GradCase } from "../types.js";

export const REDUCE_GRAD_CASES: GradCase[] = [];
