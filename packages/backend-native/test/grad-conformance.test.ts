import "@tessera/backend-js";
import "../src/index.js";
import { describeGradConformance } from "@tessera/conformance";
import { describe, it } from "vitest";
import { nativeAvailable, unavailableReason } from "./native-available.js";

// Backward: native's float32 gradients (fused backward kernels included) against backend-js's
// float64 ones, for every case of the gradient catalogue.
if (nativeAvailable) await describeGradConformance("native");
else describe("grad conformance: native", () => it.skip(`addon unavailable: ${unavailableReason}`, () => {}));
