import { defineConfig } from "tsup";

export default defineConfig({
  // worker.ts is the entry of the DataLoader's worker threads; it is loaded by URL at run time.
  entry: ["src/index.ts", "src/worker.ts"],
  format: ["esm"],
  dts: { entry: "src/index.ts", compilerOptions: { paths: {} } },
  sourcemap: true,
  clean: true,
  target: "node20",
});
