/** Registers every gradient rule and the status of every traced op of core. */
import "./elementwise.js";
import "./views.js";
import "./manipulation.js";
import "./activation.js";
import "./attention.js";
import "./loss.js";
import "./reduce.js";
import "./linalg.js";
import "./conv.js";
import "./pool.js";
import "./interpolate.js";

import { declareNonDifferentiable } from "../registry.js";

// The in-place ops (the optimizer's update and torch's copy_) run on leaves outside the graph and are
// never recorded.
declareNonDifferentiable("adamUpdate");
declareNonDifferentiable("assign");
