/**
 * Whether this run can test the addon. Where it is unavailable the suites are reported as skipped
 * with the reason (never silently); with TESSERA_REQUIRE_NATIVE=1 (CI) an unavailable addon fails.
 */
import { nativeStatus } from "../src/index.js";

const status = nativeStatus();
export const nativeAvailable = status.available;
export const unavailableReason = status.reason ?? "";

if (!status.available) {
  const msg = `backend-native: the addon is unavailable: ${status.reason}`;
  if (process.env.TESSERA_REQUIRE_NATIVE === "1") throw new Error(`${msg} (TESSERA_REQUIRE_NATIVE=1)`);
  console.warn(`${msg}; native suites are skipped`);
}
