import type { GradCase } from "../types.js";

export const VIEW_GRAD_CASES: GradCase[] = [];
