/**
 * @tessera/autograd: reverse-mode automatic differentiation above the Backend contract.
 * Importing it installs the recorder on core's op hook and adds requiresGrad/backward/grad to Tensor.
 */
import "./graph.js";
import "./tensor-api.js";
import "./rules/index.js";

export { runBackward, sumToShape } from "./backward.js";
export { checkpoint } from "./checkpoint.js";
export { type GradOptions, grad, type VjpResult, valueAndGrad, vjp } from "./functional.js";
export { type GradcheckOptions, type GradcheckReport, gradcheck } from "./gradcheck.js";
export type { GradHook } from "./graph.js";
export { enableGrad, isGradEnabled, noGrad, setGradEnabled } from "./mode.js";
export {
  type BackwardContext,
  declareComposite,
  declareNonDifferentiable,
  type GradRule,
  type GradStatus,
  getGradRule,
  gradStatus,
  hasFused,
  registerGradRule,
  type TensorInfo,
} from "./registry.js";
export type { BackwardOptions, GradFn, HookHandle } from "./tensor-api.js";
