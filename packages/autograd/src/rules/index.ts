/** Registers every gradient rule and the status of every traced op of core. */
import "./elementwise.js";
import "./views.js";
import "./activation.js";
import "./attention.js";
