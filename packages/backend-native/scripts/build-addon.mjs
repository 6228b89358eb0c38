#!/usr/bin/env node
// Builds the addon from ../../native with cmake-js (run by `pnpm install` as this package's install
// script, and by `pnpm build` with --incremental). Nothing is downloaded: Node-API headers come from
// the node-api-headers package that cmake-js depends on.
//
// A missing compiler or CMake must not break installation: the failure is recorded in
// build/status.json, the backend reports itself unavailable with that reason, and everything else
// works on backend-js. TESSERA_REQUIRE_NATIVE=1 (set by CI) turns a failed build into a failed install.
// TESSERA_NATIVE=off skips the build. TESSERA_NATIVE_DEBUG=1 builds with debug info, no optimisation.
// TESSERA_CUDA=auto|on|off (default auto) chooses whether the cuda device is compiled: auto when CMake
// finds nvcc, on fails the build without it, off never.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const sourceDir = resolve(pkgDir, "../../native");
const outDir = process.env.TESSERA_NATIVE_BUILD_DIR
  ? resolve(process.env.TESSERA_NATIVE_BUILD_DIR)
  : join(pkgDir, "build");
const statusFile = join(outDir, "status.json");
const incremental = process.argv.includes("--incremental");
const required = process.env.TESSERA_REQUIRE_NATIVE === "1";
const extraDefines = process.argv.filter((a) => a.startsWith("--CD"));
const cudaMode = process.env.TESSERA_CUDA ?? "auto";
if (!["auto", "on", "off"].includes(cudaMode)) {
  console.error(`@tessera/backend-native: TESSERA_CUDA must be auto, on or off, got '${cudaMode}'`);
  process.exit(1);
}
if (!extraDefines.some((d) => d.startsWith("--CDTESSERA_CUDA=")))
  extraDefines.push(`--CDTESSERA_CUDA=${cudaMode}`);

function writeStatus(status) {
  mkdirSync(outDir, { recursive: true });
  const tmp = `${statusFile}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ ...status, date: new Date().toISOString() }, null, 2)}\n`);
  renameSync(tmp, statusFile);
}

function unavailable(reason) {
  writeStatus({ available: false, reason });
  const msg = `@tessera/backend-native: the addon was not built: ${reason}\n  Tessera works without it on backend-js.`;
  if (required) {
    console.error(`${msg}\n  TESSERA_REQUIRE_NATIVE=1: failing.`);
    process.exit(1);
  }
  console.warn(msg);
  process.exit(0);
}

if (process.env.TESSERA_NATIVE === "off") unavailable("disabled by TESSERA_NATIVE=off");
if (!existsSync(join(sourceDir, "CMakeLists.txt"))) unavailable(`no native sources at ${sourceDir}`);

const cmake = spawnSync("cmake", ["--version"], { encoding: "utf8" });
if (cmake.error || cmake.status !== 0) {
  unavailable(
    "CMake was not found on PATH (install cmake 3.18 or newer and a C++20 compiler, then run `pnpm install` again)",
  );
}

const require = createRequire(import.meta.url);
let cmakeJs;
let addonApiDir;
try {
  cmakeJs = join(dirname(require.resolve("cmake-js/package.json")), "bin", "cmake-js");
  addonApiDir = dirname(require.resolve("node-addon-api/package.json"));
} catch (e) {
  unavailable(`cmake-js or node-addon-api is not installed (${e.message})`);
}

const jobs = Math.max(1, Math.min(availableParallelism(), 8));
const args = [
  cmakeJs,
  incremental && existsSync(join(outDir, "CMakeCache.txt")) ? "build" : "rebuild",
  "--directory",
  sourceDir,
  "--out",
  outDir,
  "--parallel",
  String(jobs),
  `--CDNODE_ADDON_API_DIR=${addonApiDir}`,
  ...extraDefines,
];
if (process.env.TESSERA_NATIVE_DEBUG === "1") args.push("--debug");
const started = Date.now();
const res = spawnSync(process.execPath, args, { encoding: "utf8", cwd: pkgDir, maxBuffer: 64 * 1024 * 1024 });
const log = `${res.stdout ?? ""}${res.stderr ?? ""}`;
if (res.status !== 0) {
  const tail = log
    .split("\n")
    .filter((l) => /error|Error|ERR!/.test(l))
    .slice(0, 12)
    .join("\n");
  console.error(log.split("\n").slice(-40).join("\n"));
  unavailable(`the build failed (cmake-js exit ${res.status}): ${tail || "see the build log above"}`);
}
const config = process.env.TESSERA_NATIVE_DEBUG === "1" ? "Debug" : "Release";
const binary = join(outDir, config, "tessera_native.node");
if (!existsSync(binary)) unavailable(`the build succeeded but ${binary} is missing`);
writeStatus({ available: true, binary, seconds: (Date.now() - started) / 1000 });
console.log(`@tessera/backend-native: built ${binary} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
