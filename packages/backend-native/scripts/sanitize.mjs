#!/usr/bin/env node
// Builds the addon with -fsanitize=address,undefined (without the cuda device) into build-sanitize/ and runs the package's
// test suites (binding, kernels, conformance forward and backward) against it. Node itself is not instrumented,
// so ASan's runtime is preloaded; leak detection is off because Node does not free everything at
// exit (a leak in the addon shows up in the handle-count checks of the conformance suite instead).
//
//   pnpm --filter @tessera/backend-native test:sanitize [vitest args…]
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const buildDir = join(pkgDir, "build-sanitize");
const binary = join(buildDir, "Release", "tessera_native.node");

const build = spawnSync(
  process.execPath,
  [
    join(pkgDir, "scripts", "build-addon.mjs"),
    "--incremental",
    "--CDTESSERA_SANITIZE=ON",
    "--CDTESSERA_CUDA=off",
  ],
  {
    stdio: "inherit",
    env: { ...process.env, TESSERA_NATIVE_BUILD_DIR: buildDir, TESSERA_REQUIRE_NATIVE: "1" },
  },
);
if (build.status !== 0 || !existsSync(binary)) {
  console.error("sanitize: the instrumented build failed");
  process.exit(1);
}

const cxx = process.env.CXX ?? "c++";
const asan = spawnSync(cxx, ["-print-file-name=libasan.so"], { encoding: "utf8" }).stdout?.trim();
if (!asan || !existsSync(asan)) {
  console.error(`sanitize: ${cxx} does not know where libasan.so is (got '${asan}')`);
  process.exit(1);
}

const args = process.argv.slice(2);
// Default: every test file of the package (binding, fuzz, kernels, conformance forward and backward).
const tests = args;
const vitest = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");
const run = spawnSync(process.execPath, [vitest, "run", ...tests], {
  cwd: pkgDir,
  stdio: "inherit",
  env: {
    ...process.env,
    LD_PRELOAD: asan,
    ASAN_OPTIONS: "detect_leaks=0:abort_on_error=1:halt_on_error=1",
    UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1",
    TESSERA_NATIVE_BINARY: binary,
    TESSERA_REQUIRE_NATIVE: "1",
    // This build leaves the cuda device out (TESSERA_CUDA=off above: ASan and the CUDA runtime's
    // host code add minutes and nothing the main build's tests miss), so it cannot carry it.
    TESSERA_REQUIRE_CUDA_BUILD: "0",
  },
});
if (run.status !== 0) {
  console.error(`sanitize: the suites failed under ASan/UBSan (exit ${run.status ?? run.signal})`);
  process.exit(1);
}
console.log("sanitize: the native test suites pass under -fsanitize=address,undefined");
