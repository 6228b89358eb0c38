import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  // Declarations come from tsc (tsconfig.build.json): a bundled .d.ts would lose the
  // `declare module "../tensor.js"` augmentations that attach op methods to Tensor.
  dts: false,
  sourcemap: true,
  clean: true,
  target: "node20",
});
