/**
 * Without a usable addon, installation succeeds, `native` reports why it is unavailable, and
 * everything else keeps working on backend-js.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";

const script = join(dirname(fileURLToPath(import.meta.url)), "..", "scripts", "build-addon.mjs");
const saved = { ...process.env };

afterEach(() => {
  process.env = { ...saved };
  vi.resetModules();
});

describe("native backend unavailable", () => {
  it("a missing binary is a reason, not an exception, and backend-js still works", async () => {
    delete process.env.TESSERA_NATIVE; // TESSERA_NATIVE=off would take precedence over the missing binary
    process.env.TESSERA_NATIVE_BINARY = join(tmpdir(), "no-such-dir", "tessera_native.node");
    vi.resetModules();
    const native = await import("../src/index.js");
    const core = await import("@tessera/core");
    await import("@tessera/backend-js");
    const status = native.nativeStatus();
    expect(status.available).toBe(false);
    expect(status.reason).toMatch(/TESSERA_NATIVE_BINARY=.*does not exist/);
    expect(core.listBackends()).not.toContain("native");
    expect(() => new native.NativeBackend()).toThrow(
      /backend 'native' is unavailable: TESSERA_NATIVE_BINARY/,
    );
    expect(() => core.findBackend("native")).toThrow(/not registered/);
    const y = core.tensor([1, 2, 3]).mul(2);
    expect(core.getBackend().name).toBe("js");
    expect([...(await y.data())]).toEqual([2, 4, 6]);
  });

  it("TESSERA_NATIVE=off disables it with that reason", async () => {
    process.env.TESSERA_NATIVE = "off";
    vi.resetModules();
    const native = await import("../src/index.js");
    expect(native.nativeStatus()).toEqual({ available: false, reason: "disabled by TESSERA_NATIVE=off" });
  });

  it("the install script succeeds without CMake and records why; TESSERA_REQUIRE_NATIVE=1 fails it", () => {
    const dir = mkdtempSync(join(tmpdir(), "tessera-native-build-"));
    try {
      const env = { PATH: join(dir, "empty-path"), TESSERA_NATIVE_BUILD_DIR: dir };
      const soft = spawnSync(process.execPath, [script], { env, encoding: "utf8" });
      expect(soft.status).toBe(0);
      expect(soft.stderr).toMatch(/the addon was not built: CMake was not found/);
      const status = JSON.parse(readFileSync(join(dir, "status.json"), "utf8"));
      expect(status).toMatchObject({ available: false });
      expect(status.reason).toMatch(/CMake was not found on PATH/);
      const hard = spawnSync(process.execPath, [script], {
        env: { ...env, TESSERA_REQUIRE_NATIVE: "1" },
        encoding: "utf8",
      });
      expect(hard.status).toBe(1);
      expect(hard.stderr).toMatch(/TESSERA_REQUIRE_NATIVE=1: failing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
