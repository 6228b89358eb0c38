import type { GradCase } from "../types.js";

export const LINALG_GRAD_CASES: GradCase[] = [];
