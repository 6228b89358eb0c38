/**
 * The cuda device on a machine without a usable GPU (CI, this development machine): the binary says
 * whether it was built with CUDA and why the device cannot run, 'cuda' is not registered, and asking
 * for it is an error with that reason. On a GPU machine the same checks assert the opposite.
 *
 * TESSERA_REQUIRE_CUDA_BUILD=1 (set by .ci/run where nvcc exists) requires the binary to carry the cuda
 * device, so that CI proves the CUDA sources compile on every submission.
 */
import { findBackend, listBackends } from "@tessera/core";
import { describe, expect, it } from "vitest";
import { cudaStatus, NativeBackend, nativeStatus } from "../src/index.js";
import { loadAddon } from "../src/loader.js";
import { nativeAvailable } from "./native-available.js";

describe("cuda device status", () => {
  const { addon } = loadAddon();
  const status = cudaStatus();

  it("without the addon, cuda is unavailable because of it", () => {
    if (nativeAvailable) {
      expect(addon).toBeDefined();
      return;
    }
    expect(status.available).toBe(false);
    expect(status.reason).toMatch(/^the native addon is unavailable: /);
  });

  const raw = addon
    ? addon.cudaStatus()
    : { built: false, available: false, architectures: "", reason: "no addon" };

  it("the binary reports what it carries and whether cuda runs here", () => {
    if (process.env.TESSERA_REQUIRE_CUDA_BUILD === "1") expect(raw.built).toBe(true);
    expect(typeof raw.built).toBe("boolean");
    expect(raw.available).toBe(status.available);
    if (raw.built) {
      expect(raw.architectures).toBe("sm_80 sm_90 compute_90");
      expect(raw.runtimeVersion).toBeGreaterThanOrEqual(12000);
    } else if (addon) {
      expect(raw.reason).toMatch(/built (without CUDA|with TESSERA_CUDA=off)/);
    }
  });

  it("without a usable GPU: a reason, no 'cuda' backend, and a clear error when asked", () => {
    if (!addon) {
      expect(listBackends()).not.toContain("cuda");
      return;
    }
    if (status.available) {
      expect(listBackends()).toContain("cuda");
      expect(findBackend("cuda").info().device).toBe("cuda");
      return;
    }
    expect(status.reason).toBeTruthy();
    if (raw.built) expect(status.reason).toMatch(/driver|device|capability|disabled/);
    expect(listBackends()).not.toContain("cuda");
    expect(() => new NativeBackend({ device: "cuda" })).toThrow(
      `backend 'cuda' is unavailable: ${status.reason}`,
    );
    expect(() => addon!.cuda()).toThrow(`cuda is unavailable: ${status.reason}`);
    // The cpu device is untouched.
    expect(nativeStatus().available).toBe(true);
    expect(new NativeBackend().info().device).toBe("cpu");
  });

  it("rejects an unknown device", () => {
    if (!addon) return;
    expect(() => new NativeBackend({ device: "tpu" as "cpu" })).toThrow(/device must be 'cpu' or 'cuda'/);
  });
});
