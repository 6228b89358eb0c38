import type { GradCase } from "../types.js";

export const ACTIVATION_GRAD_CASES: GradCase[] = [];
