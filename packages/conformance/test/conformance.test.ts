import { JsBackend } from "@tessera/backend-js";
import { describeConformance } from "../src/index.js";

// backend-js with every fused kernel against backend-js restricted to primitives: each fused kernel is
// checked against core's composite. Both sides run the same primitive code, so each primitive case is
// also checked against its float64 oracle (computed from the host arrays, no backend involved).
await describeConformance(() => new JsBackend({ name: "js" }), {
  reference: () => new JsBackend({ name: "js-primitives", fused: [] }),
});
