// Filled in by the op set of this module; see docs/ops.md.
export {};
