import type { GradCase } from "../types.js";

export const ELEMENTWISE_GRAD_CASES: GradCase[] = [];
