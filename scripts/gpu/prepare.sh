#!/usr/bin/env bash
# Builds, HERE (a machine with Node.js and node_modules), what travels to a GPU machine that has
# nvcc, cmake and python3 + torch but no Node.js and no package registry. Everything lands in .gpu/
# (ignored through .git/info/exclude), which the device call carries:
#
#   .gpu/node.xz              this machine's node binary, xz-compressed (made once; delete it to redo)
#   .gpu/conformance.mjs      the conformance CLI + backend-native, every dependency inlined
#   .gpu/cuda-bench.mjs       packages/bench/src/cuda/cli.ts, likewise
#   .gpu/node-api-headers/    node-api-headers' include/ (CMAKE_JS_INC for a plain cmake build)
#   .gpu/node-addon-api/      node-addon-api's headers (NODE_ADDON_API_DIR)
#
# The repository tree travels as it is (native/ sources, the conformance goldens under
# packages/conformance/fixtures/, the python scripts), so none of that is copied.
#
#   bash scripts/gpu/prepare.sh            then, on the device: bash scripts/gpu/run.sh all
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
GPU=$ROOT/.gpu

# .gpu/ must not be tracked, nor travel as an untracked file: ignore it locally.
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >>"$exclude"
grep -qxF '/.gpu-out/' "$exclude" 2>/dev/null || echo '/.gpu-out/' >>"$exclude" # run.sh's OUT when unset
mkdir -p "$GPU"

# 1. node, compressed (the slow step: done once).
if [ ! -s "$GPU/node.xz" ]; then
  node_bin=$(readlink -f "$(command -v node)")
  echo "compressing $node_bin ($(node --version)) -> .gpu/node.xz"
  xz -T2 -6 -c "$node_bin" >"$GPU/node.xz.tmp"
  mv "$GPU/node.xz.tmp" "$GPU/node.xz"
  node --version >"$GPU/node.version"
else
  echo ".gpu/node.xz exists ($(cat "$GPU/node.version" 2>/dev/null || echo '?')); delete it to recompress"
fi

# 2. the JS bundles (workspace packages from src/, npm packages inlined).
node scripts/gpu/bundle.mjs "$GPU"

# 3. headers for building the addon with plain cmake (what cmake-js would pass).
resolve_pkg() { # $1: package, $2: the package.json that depends on it
  node -e 'const {createRequire}=require("node:module");const p=require("node:path");
    console.log(p.dirname(createRequire(process.argv[2]).resolve(process.argv[1]+"/package.json")))' "$1" "$2"
}
napi_dir=$(resolve_pkg node-addon-api "$ROOT/packages/backend-native/package.json")
cmakejs_dir=$(resolve_pkg cmake-js "$ROOT/packages/backend-native/package.json")
headers_dir=$(resolve_pkg node-api-headers "$cmakejs_dir/package.json")
rm -rf "$GPU/node-addon-api" "$GPU/node-api-headers"
mkdir -p "$GPU/node-addon-api" "$GPU/node-api-headers"
cp "$napi_dir"/*.h "$napi_dir/package.json" "$GPU/node-addon-api/"
cp -r "$headers_dir/include" "$GPU/node-api-headers/include"
echo "headers: node-addon-api $(node -p "require('$napi_dir/package.json').version"), node-api-headers $(node -p "require('$headers_dir/package.json').version"), cmake-js $(node -p "require('$cmakejs_dir/package.json').version")"

# 3b. with --with-binary, the addon built here (packages/backend-native/build/Release), xz-compressed:
#     run.sh uses it instead of compiling on the device (GPU_BUILD=cmake compiles there anyway).
rm -f "$GPU/tessera_native.node.xz"
if [ "${1:-}" = "--with-binary" ]; then
  bin=$ROOT/packages/backend-native/build/Release/tessera_native.node
  [ -s "$bin" ] || { echo "prepare.sh: $bin is missing (pnpm --filter @tessera/backend-native build:addon)" >&2; exit 1; }
  xz -T2 -6 -c "$bin" >"$GPU/tessera_native.node.xz"
  echo "prebuilt addon: $(du -h "$GPU/tessera_native.node.xz" | cut -f1) compressed ($(du -h "$bin" | cut -f1))"
fi

# 4. what the device call will carry, and the working tree that travels with it.
echo
du -sh "$GPU"/* | sed 's|'"$ROOT"'/||'
carry_kib=$(du -sk "$GPU" | cut -f1)
tree_kib=$(git ls-files -z --cached --others --exclude-standard | du -ck --files0-from=- 2>/dev/null | tail -1 | cut -f1)
echo "carried .gpu/: $((carry_kib / 1024)) MiB; working tree (tracked + untracked, not ignored): $((tree_kib / 1024)) MiB;" \
  "together $(((carry_kib + tree_kib) / 1024)) MiB of the 64 MiB a device call may send"
if [ $((carry_kib + tree_kib)) -gt $((62 * 1024)) ]; then
  echo "WARNING: close to or over the 64 MiB limit" >&2
fi
