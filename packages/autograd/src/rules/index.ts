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

// The optimizer's in-place update: it runs on leaves after backward and is never recorded.
declareNonDifferentiable("adamUpdate");
