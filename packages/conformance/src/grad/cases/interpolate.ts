import type { GradCase } from "../types.js";

export const INTERPOLATE_GRAD_CASES: GradCase[] = [];
