#!/usr/bin/env node
// Bundles what scripts/gpu/run.sh runs on a GPU machine that has Node.js (carried) but no
// node_modules: every workspace package (from src/, through tsconfig.base.json's paths) and every
// npm dependency is inlined. Writes into the folder given as the first argument (default .gpu/):
//   conformance.mjs   the conformance CLI with backend-native imported first (so 'cuda' registers)
//   cuda-bench.mjs    packages/bench/src/cuda/cli.ts
//   cuda-checks.mjs   scripts/gpu/checks-entry.ts (backend-native's cuda runtime and large-shape checks)
//   model-cases.mjs   the PyTorch model goldens (packages/models/test/support/run-model-cases.ts)
// The conformance package finds its PyTorch goldens from its own module's location; in the bundle
// that module is replaced so they are found in the repository tree beside .gpu/ (which travels), or
// at TESSERA_TORCH_FIXTURES_DIR.
import { mkdirSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const outDir = resolve(process.argv[2] ?? join(root, ".gpu"));
// esbuild is tsup's dependency; resolve it from there (nothing is installed for this script).
const require = createRequire(realpathSync(join(root, "node_modules/tsup/package.json")));
const esbuild = require("esbuild");

const fixturesDir = {
  name: "fixtures-dir",
  setup(build) {
    build.onLoad({ filter: /conformance[\\/]src[\\/]fixtures-dir\.ts$/ }, () => ({
      loader: "ts",
      contents: [
        'import { fileURLToPath } from "node:url";',
        "/** The bundle lives in <repo>/.gpu/: the goldens are in the repository tree beside it. */",
        "export const TORCH_FIXTURES_DIR: string =",
        "  process.env.TESSERA_TORCH_FIXTURES_DIR ??",
        '  fileURLToPath(new URL("../packages/conformance/fixtures/torch/", import.meta.url));',
      ].join("\n"),
    }));
  },
};

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  tsconfig: join(root, "tsconfig.base.json"),
  // Some npm packages are CommonJS and call require(); give the ESM bundle one.
  banner: {
    js: 'import { createRequire as __tesseraCreateRequire } from "node:module"; const require = __tesseraCreateRequire(import.meta.url);',
  },
  legalComments: "none",
  logLevel: "warning",
  plugins: [fixturesDir],
};

mkdirSync(outDir, { recursive: true });
const entries = [
  { in: join(root, "scripts/gpu/conformance-entry.mjs"), out: "conformance.mjs" },
  { in: join(root, "packages/bench/src/cuda/cli.ts"), out: "cuda-bench.mjs" },
  { in: join(root, "scripts/gpu/checks-entry.ts"), out: "cuda-checks.mjs" },
  { in: join(root, "packages/models/test/support/run-model-cases.ts"), out: "model-cases.mjs" },
];
for (const e of entries) {
  const res = await esbuild.build({
    ...common,
    entryPoints: [e.in],
    outfile: join(outDir, e.out),
    metafile: true,
  });
  const bytes = Object.values(res.metafile.outputs).reduce((s, o) => s + o.bytes, 0);
  const external = Object.values(res.metafile.inputs).length;
  console.log(`bundled ${e.out}: ${(bytes / 1024).toFixed(0)} KiB from ${external} modules`);
}
