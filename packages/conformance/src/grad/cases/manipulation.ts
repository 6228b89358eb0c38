import type { GradCase } from "../types.js";

export const MANIPULATION_GRAD_CASES: GradCase[] = [];
