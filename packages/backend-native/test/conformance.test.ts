import { describeConformance } from "@tessera/conformance";
import { describe, it } from "vitest";
import { NativeBackend } from "../src/index.js";
import { nativeAvailable, unavailableReason } from "./native-available.js";

// Every kernel, primitive and fused, forward: native against backend-js within the catalogue's
// per-dtype tolerances. TESSERA_CONFORMANCE_CASE=<name> runs one case.
if (nativeAvailable) await describeConformance(() => new NativeBackend());
else describe("conformance: native", () => it.skip(`addon unavailable: ${unavailableReason}`, () => {}));
