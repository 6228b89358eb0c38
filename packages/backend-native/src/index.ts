/**
 * `@tessera/backend-native`: importing it registers backend 'native' (device cpu) when the addon
 * loaded, and backend 'cuda' when the binary has a cuda device and a GPU is usable here; otherwise
 * `nativeStatus()` and `cudaStatus()` say why.
 */
import { registerBackend } from "@tessera/core";
import { NativeBackend } from "./backend.js";
import { cudaStatus, nativeStatus } from "./loader.js";

export type { AddonInfo, CudaInfo, CudaStatus } from "./abi.js";
export { NATIVE_DTYPES, NativeBackend, type NativeBackendOptions } from "./backend.js";
export { type CudaDeviceStatus, cudaStatus, type NativeStatus, nativeStatus } from "./loader.js";

/** Registers 'native' above backend-js's priority, so importing this package makes it the default. */
if (nativeStatus().available) registerBackend("native", () => new NativeBackend(), 2);
/**
 * 'cuda' is registered below 'native': as in PyTorch, work moves to the GPU when asked
 * (`setBackend('cuda')`, `tensor.to('cuda')`, `tessera train --backend cuda`; the CLI prefers it).
 */
if (nativeStatus().available && cudaStatus().available) {
  registerBackend("cuda", () => new NativeBackend({ device: "cuda" }), 0);
}
