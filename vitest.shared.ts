/**
 * The one vitest configuration every package uses. Tests run against the workspace sources (each
 * `@tessera/*` import resolves to `packages/<name>/src/index.ts`), so a test never sees a stale
 * dist/ build.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const SOURCE_PACKAGES = ["core", "autograd", "backend-js", "backend-native", "conformance", "nn", "models", "data"];

export default defineConfig({
  resolve: {
    alias: Object.fromEntries(
      SOURCE_PACKAGES.map((pkg) => [
        `@tessera/${pkg}`,
        fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url)),
      ]),
    ),
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    setupFiles: [fileURLToPath(new URL("./vitest.setup.ts", import.meta.url))],
  },
});
