/** The gradient catalogue: every differentiable op of core, one file per family. */
import type { GradCase } from "../types.js";
import { ACTIVATION_GRAD_CASES } from "./activation.js";
import { ATTENTION_GRAD_CASES } from "./attention.js";
import { CONV_GRAD_CASES } from "./conv.js";
import { ELEMENTWISE_GRAD_CASES } from "./elementwise.js";
import { halfGradCases } from "./half.js";
import { INTERPOLATE_GRAD_CASES } from "./interpolate.js";
import { LINALG_GRAD_CASES } from "./linalg.js";
import { LOSS_GRAD_CASES } from "./loss.js";
import { MANIPULATION_GRAD_CASES } from "./manipulation.js";
import { POOL_GRAD_CASES } from "./pool.js";
import { REDUCE_GRAD_CASES } from "./reduce.js";
import { VIEW_GRAD_CASES } from "./views.js";

/** Every float32 gradient case: one per differentiable op variant. */
const FLOAT32_GRAD_CASES: readonly GradCase[] = [
  ...ELEMENTWISE_GRAD_CASES,
  ...REDUCE_GRAD_CASES,
  ...LINALG_GRAD_CASES,
  ...VIEW_GRAD_CASES,
  ...MANIPULATION_GRAD_CASES,
  ...ACTIVATION_GRAD_CASES,
  ...ATTENTION_GRAD_CASES,
  ...LOSS_GRAD_CASES,
  ...CONV_GRAD_CASES,
  ...POOL_GRAD_CASES,
  ...INTERPOLATE_GRAD_CASES,
];

/** The float32 cases, then the float16/bfloat16 variants of those whose kernels run in half precision. */
export const GRAD_CATALOGUE: readonly GradCase[] = [
  ...FLOAT32_GRAD_CASES,
  ...halfGradCases(FLOAT32_GRAD_CASES),
];
