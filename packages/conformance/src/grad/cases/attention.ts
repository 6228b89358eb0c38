import type { GradCase } from "../types.js";

export const ATTENTION_GRAD_CASES: GradCase[] = [];
