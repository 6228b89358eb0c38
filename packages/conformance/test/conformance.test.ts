import { JsBackend } from "@tessera/backend-js";
import { describeConformance } from "../src/index.js";

// backend-js with every fused kernel against backend-js restricted to primitives: each fused kernel is
// checked against core's composite, and every primitive against itself through two instances.
await describeConformance(() => new JsBackend({ name: "js" }), {
  reference: () => new JsBackend({ name: "js-primitives", fused: [] }),
});
