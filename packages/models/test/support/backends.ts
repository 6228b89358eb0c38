/**
 * The backends the model tests run on: 'js' always, and 'native' where the addon loaded; with
 * TESSERA_REQUIRE_NATIVE=1 (CI) an unavailable addon fails instead.
 */
import "@tessera/backend-js";
import { nativeStatus } from "@tessera/backend-native";

const status = nativeStatus();
if (!status.available && process.env.TESSERA_REQUIRE_NATIVE === "1") {
  throw new Error(
    `models tests: the native addon is unavailable (${status.reason}) and TESSERA_REQUIRE_NATIVE=1`,
  );
}

/** Backend names to run every parity and training test on. */
export const TEST_BACKENDS: readonly string[] = status.available ? ["js", "native"] : ["js"];

/** Why 'native' is missing from TEST_BACKENDS (empty when it is there). */
export const NATIVE_UNAVAILABLE = status.available ? "" : (status.reason ?? "unknown reason");
