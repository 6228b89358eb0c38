/**
 * The backends the model tests run on: 'js' always, 'native' where the addon loaded and 'cuda' where
 * its device runs; with
 * TESSERA_REQUIRE_NATIVE=1 (CI) an unavailable addon fails instead.
 */
import "@tessera/backend-js";
import { cudaStatus, nativeStatus } from "@tessera/backend-native";

const status = nativeStatus();
if (!status.available && process.env.TESSERA_REQUIRE_NATIVE === "1") {
  throw new Error(
    `models tests: the native addon is unavailable (${status.reason}) and TESSERA_REQUIRE_NATIVE=1`,
  );
}

/** Backend names to run every parity and training test on ('cuda' too where a GPU is usable). */
export const TEST_BACKENDS: readonly string[] = [
  "js",
  ...(status.available ? ["native"] : []),
  ...(cudaStatus().available ? ["cuda"] : []),
];

/** Why 'native' is missing from TEST_BACKENDS (empty when it is there). */
export const NATIVE_UNAVAILABLE = status.available ? "" : (status.reason ?? "unknown reason");
