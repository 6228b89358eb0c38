import type { GradCase } from "../types.js";

export const POOL_GRAD_CASES: GradCase[] = [];
