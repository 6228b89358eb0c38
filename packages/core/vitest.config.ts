import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Tests run against the workspace sources, so a test never sees a stale dist/ build.
const src = (pkg: string) => fileURLToPath(new URL(`../${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      "@tessera/core": src("core"),
      "@tessera/autograd": src("autograd"),
      "@tessera/backend-js": src("backend-js"),
      "@tessera/conformance": src("conformance"),
    },
  },
  test: { include: ["test/**/*.test.ts"], testTimeout: 60_000 },
});
