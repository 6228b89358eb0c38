/**
 * Finds and loads the addon. Loading never throws: a missing or broken binary makes the backend
 * unavailable with a reason (`nativeStatus()`), and Tessera goes on with backend-js.
 *
 * Search order: TESSERA_NATIVE_BINARY, then build/Release and build/Debug of this package (written by
 * scripts/build-addon.mjs during `pnpm install`). build/status.json holds the build's failure reason.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PRIMITIVE_KERNELS } from "@tessera/core";
import type { Addon, AddonInfo, CudaStatus } from "./abi.js";

export interface NativeStatus {
  available: boolean;
  /** Why the addon is not available (absent when it is). */
  reason?: string;
  /** The binary that loaded, or the one that failed to. */
  binary?: string;
  info?: AddonInfo;
}

/** src/ and dist/ both sit one level below the package root. */
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

function candidates(): string[] {
  const env = process.env.TESSERA_NATIVE_BINARY;
  if (env) return [env];
  return ["Release", "Debug"].map((c) => join(packageDir, "build", c, "tessera_native.node"));
}

function buildFailure(): string | undefined {
  const file = join(packageDir, "build", "status.json");
  if (!existsSync(file)) return undefined;
  try {
    const s = JSON.parse(readFileSync(file, "utf8")) as { available?: boolean; reason?: string };
    return s.available === false ? s.reason : undefined;
  } catch {
    return undefined;
  }
}

let loaded: { addon?: Addon; status: NativeStatus } | undefined;

export function loadAddon(): { addon?: Addon; status: NativeStatus } {
  if (loaded) return loaded;
  if (process.env.TESSERA_NATIVE === "off") {
    loaded = { status: { available: false, reason: "disabled by TESSERA_NATIVE=off" } };
    return loaded;
  }
  const binary = candidates().find((p) => existsSync(p));
  if (!binary) {
    const why = buildFailure();
    loaded = {
      status: {
        available: false,
        reason: why
          ? `the addon failed to build during install: ${why}`
          : process.env.TESSERA_NATIVE_BINARY
            ? `TESSERA_NATIVE_BINARY=${process.env.TESSERA_NATIVE_BINARY} does not exist`
            : "the addon is not built (run `pnpm install`, or `pnpm --filter @tessera/backend-native build:addon`)",
      },
    };
    return loaded;
  }
  try {
    const addon = createRequire(import.meta.url)(binary) as Addon;
    const info = addon.info();
    // A stale binary that lacks a primitive cannot serve the contract.
    const missing = PRIMITIVE_KERNELS.filter((k) => !info.ops.includes(k));
    if (missing.length > 0 && process.env.TESSERA_NATIVE_ALLOW_PARTIAL !== "1") {
      loaded = {
        status: {
          available: false,
          binary,
          info,
          reason: `the binary at ${binary} lacks kernels ${missing.join(", ")} (stale build? run \`pnpm build\`)`,
        },
      };
      return loaded;
    }
    loaded = { addon, status: { available: true, binary, info } };
  } catch (e) {
    loaded = {
      status: { available: false, binary, reason: `loading ${binary} failed: ${(e as Error).message}` },
    };
  }
  return loaded;
}

/** Whether the native backend can run here, and why not. */
export function nativeStatus(): NativeStatus {
  return loadAddon().status;
}

export interface CudaDeviceStatus {
  available: boolean;
  /** Why the cuda device cannot run here (absent when it can). */
  reason?: string;
  /** The binary's own report (architectures, driver, device) when the addon loaded. */
  info?: CudaStatus;
}

let cudaLoaded: CudaDeviceStatus | undefined;

/**
 * Whether the cuda device can run here, and why not: no addon, a binary built without CUDA, no
 * driver, no device, an old GPU, or a binary that lacks a primitive kernel. Probing initialises the
 * CUDA driver only when the binary has a cuda device.
 */
export function cudaStatus(): CudaDeviceStatus {
  if (cudaLoaded) return cudaLoaded;
  const { addon, status } = loadAddon();
  if (!addon) {
    cudaLoaded = { available: false, reason: `the native addon is unavailable: ${status.reason}` };
    return cudaLoaded;
  }
  if (typeof addon.cudaStatus !== "function") {
    cudaLoaded = {
      available: false,
      reason: `the binary at ${status.binary} predates the cuda device (rebuild it)`,
    };
    return cudaLoaded;
  }
  const info = addon.cudaStatus();
  if (!info.available) {
    cudaLoaded = { available: false, reason: info.reason ?? "unknown", info };
    return cudaLoaded;
  }
  try {
    const ops = addon.cuda().info().ops;
    const missing = PRIMITIVE_KERNELS.filter((k) => !ops.includes(k));
    cudaLoaded =
      missing.length > 0 && process.env.TESSERA_NATIVE_ALLOW_PARTIAL !== "1"
        ? { available: false, reason: `the cuda device lacks kernels ${missing.join(", ")}`, info }
        : { available: true, info };
  } catch (e) {
    cudaLoaded = { available: false, reason: (e as Error).message, info };
  }
  return cudaLoaded;
}
