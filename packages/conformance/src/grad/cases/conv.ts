import type { GradCase } from "../types.js";

export const CONV_GRAD_CASES: GradCase[] = [];
