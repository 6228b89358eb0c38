/**
 * `@tessera/backend-native`: importing it registers backend 'native' (device cpu) when the addon
 * loaded; otherwise nothing is registered and `nativeStatus()` says why.
 */
import { registerBackend } from "@tessera/core";
import { NativeBackend } from "./backend.js";
import { nativeStatus } from "./loader.js";

export type { AddonInfo } from "./abi.js";
export { NATIVE_DTYPES, NativeBackend, type NativeBackendOptions } from "./backend.js";
export { type NativeStatus, nativeStatus } from "./loader.js";

/** Registers 'native' above backend-js's priority, so importing this package makes it the default. */
if (nativeStatus().available) registerBackend("native", () => new NativeBackend(), 2);
