import type { GradCase } from "../types.js";

export const LOSS_GRAD_CASES: GradCase[] = [];
