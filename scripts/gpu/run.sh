#!/usr/bin/env bash
# Runs on the GPU machine (nvcc, cmake, python3 + torch; no Node.js, no registry), from the
# repository root, with .gpu/ (made by scripts/gpu/prepare.sh) carried:
#
#   bash scripts/gpu/run.sh build          unpack node, build the addon (cuda on), print nvidia-smi and the cuda status
#   bash scripts/gpu/run.sh checks         build, then the cuda runtime checks and the model goldens on 'cuda'
#   bash scripts/gpu/run.sh conformance    build, then conformance test / grad / torch goldens on 'cuda'
#   bash scripts/gpu/run.sh bench          build, then tessera's and PyTorch's benchmarks, then the comparison
#   bash scripts/gpu/run.sh all            all of it (build checks conformance bench) (may not fit one 10-minute call: see the time budget)
#
# Several steps may be named (`run.sh conformance bench`). Results go to $OUT (default .gpu-out/):
#   run.log  conformance.log (with the checks)  bench.log  tessera.json  tessera-cublas.json  torch.json
#   <device>-<date>.json (merged, for bench/results/cuda/)  comparison.md          (8 files at most)
#
# Knobs (environment):
#   GPU_BUDGET_S=570      seconds this call may use in all; each step's timeout is cut to what is left
#   TBUILD=/tmp/tbuild    the cmake build folder (reused while the machine stays warm)
#   TESSERA_CUDA=on       passed to CMake (on fails the build without nvcc)
#   TESSERA_CUDA_ARCHS    e.g. 90-real to build for the H100/H200 only (faster); default: CMakeLists' list
#   CONF_RUNS=25          fast-check runs per conformance case (test and grad)
#   CONF_ARGS / GRAD_ARGS extra arguments for `test cuda` / `grad --backend cuda` (e.g. --kernel matmul)
#   BENCH_ARGS            extra arguments for the tessera bench (e.g. --only gemm,attention, --small)
#   TORCH_ARGS            extra arguments for torch_cuda_bench.py (the same selection flags)
#   BENCH_CUBLAS_ONLY=gemm  groups of the second tessera run with TESSERA_CUBLAS_PATH set ('' skips it)
#   TORCH_RESERVE_S=150   seconds kept for PyTorch's run and the comparison after tessera's
#   BENCH_RESERVE_S=240   with conformance and bench in one call: seconds the conformance steps leave
#   GPU_BACKEND=cuda      the backend under test ('native' tries the whole flow on a CPU machine:
#                         GPU_BACKEND=native TESSERA_CUDA=off BENCH_ARGS=--small TORCH_ARGS='--small --device cpu')
#   PYTHON=python3        the python that has torch
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
GPU=$ROOT/.gpu
OUT=${OUT:-$ROOT/.gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PYTHON=${PYTHON:-python3}
BACKEND=${GPU_BACKEND:-cuda}
START=$SECONDS
BUDGET=${GPU_BUDGET_S:-570}
declare -a SUMMARY=()

log() { echo "[run.sh +$((SECONDS - START))s] $*" | tee -a "$OUT/run.log"; }
remaining() { echo $((BUDGET - (SECONDS - START))); }
# limit WANTED [RESERVE]: a timeout of at most WANTED seconds that leaves RESERVE seconds of the budget.
limit() {
  local left=$(($(remaining) - ${2:-0}))
  [ "$left" -gt "$1" ] && left=$1
  [ "$left" -lt 10 ] && left=10
  echo "$left"
}
# step NAME LOGFILE TIMEOUT CMD...: runs CMD with a timeout, appending its output to LOGFILE (and stdout).
step() {
  local name=$1 logf=$2 t=$3
  shift 3
  log "== $name (timeout ${t}s): $*"
  echo "== $name: $*" >>"$logf"
  local t0=$SECONDS
  timeout --kill-after=10 "$t" "$@" 2>&1 | tee -a "$logf"
  local rc=${PIPESTATUS[0]}
  local what="rc $rc"
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && what="TIMED OUT after ${t}s"
  SUMMARY+=("$name: $what, $((SECONDS - t0)) s")
  log "== $name: $what ($((SECONDS - t0)) s)"
  return "$rc"
}

[ -d "$GPU" ] || {
  echo "run.sh: $GPU is missing: run scripts/gpu/prepare.sh where Node.js is, and carry .gpu" >&2
  exit 2
}

setup_node() {
  if [ ! -x /tmp/node/bin/node ]; then
    mkdir -p /tmp/node/bin
    xz -dc -T0 "$GPU/node.xz" >/tmp/node/bin/node.tmp && chmod +x /tmp/node/bin/node.tmp &&
      mv /tmp/node/bin/node.tmp /tmp/node/bin/node || {
      echo "run.sh: cannot unpack $GPU/node.xz" >&2
      exit 2
    }
  fi
  export PATH=/tmp/node/bin:$PATH
  log "node $(node --version)"
}

find_nvcc() {
  command -v nvcc >/dev/null && return
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin /opt/cuda/bin; do
    [ -x "$d/nvcc" ] && export PATH=$d:$PATH && return
  done
}

# The directory of the pip wheel's libcublas.so* in this python (CUDA 12 and 13 wheel layouts).
find_cublas() {
  "$PYTHON" - <<'EOF' 2>/dev/null
import glob, os
dirs = []
try:
    import nvidia.cublas as m
    paths = list(getattr(m, "__path__", []))
    if getattr(m, "__file__", None):
        paths.append(os.path.dirname(m.__file__))
    dirs += [os.path.join(p, "lib") for p in paths]
except Exception:
    pass
try:
    import nvidia
    for base in nvidia.__path__:
        dirs += sorted(glob.glob(os.path.join(base, "cu*", "lib"))) + [os.path.join(base, "cublas", "lib")]
except Exception:
    pass
for d in dirs:
    if glob.glob(os.path.join(d, "libcublas.so*")):
        print(d)
        break
EOF
}

# The GPU and what the addon says of it, into run.log.
report_device() {
  {
    echo "== nvidia-smi"
    nvidia-smi 2>&1 || echo "nvidia-smi failed"
    echo "== cuda status (node .gpu/cuda-bench.mjs --status)"
    node "$GPU/cuda-bench.mjs" --status 2>&1
  } | tee -a "$OUT/run.log"
}

BUILT=0
build() {
  [ "$BUILT" = 1 ] && return 0
  setup_node
  find_nvcc
  # A binary built where Node.js is (`prepare.sh --with-binary`) saves the device the compile.
  if [ -s "$GPU/tessera_native.node.xz" ] && [ "${GPU_BUILD:-prebuilt}" = prebuilt ]; then
    xz -dc "$GPU/tessera_native.node.xz" >/tmp/tessera_native.node && export TESSERA_NATIVE_BINARY=/tmp/tessera_native.node
    log "TESSERA_NATIVE_BINARY=/tmp/tessera_native.node (prebuilt, carried in .gpu/; GPU_BUILD=cmake builds here instead)"
    BUILT=1
    report_device
    return 0
  fi
  local tb=${TBUILD:-/tmp/tbuild}
  local gen=()
  command -v ninja >/dev/null && [ ! -f "$tb/CMakeCache.txt" ] && gen=(-G Ninja)
  local archs=()
  [ -n "${TESSERA_CUDA_ARCHS:-}" ] && archs=("-DTESSERA_CUDA_ARCHITECTURES=$TESSERA_CUDA_ARCHS")
  log "nvcc: $(command -v nvcc || echo none) $(nvcc --version 2>/dev/null | tail -1); cmake: $(cmake --version | head -1)"
  step "cmake configure" "$OUT/run.log" "$(limit 120)" cmake -S native -B "$tb" "${gen[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DNODE_ADDON_API_DIR="$GPU/node-addon-api" \
    -DCMAKE_JS_INC="$GPU/node-api-headers/include" \
    -DTESSERA_CUDA="${TESSERA_CUDA:-on}" "${archs[@]}" || return 1
  step "cmake build" "$OUT/run.log" "$(limit 420 60)" cmake --build "$tb" -j16 || return 1
  local bin
  bin=$(find "$tb" -name tessera_native.node -type f -printf '%T@ %p\n' | sort -nr | head -1 | cut -d' ' -f2)
  [ -n "$bin" ] || {
    log "no tessera_native.node under $tb"
    return 1
  }
  export TESSERA_NATIVE_BINARY=$bin
  log "TESSERA_NATIVE_BINARY=$bin ($(du -h "$bin" | cut -f1))"
  BUILT=1
  report_device
}

checks() {
  build || return 1
  local f="$OUT/conformance.log" rc=0 # one log with conformance: $OUT brings back 8 files at most
  step "cuda checks $BACKEND" "$f" "$(limit 120 "${CONF_RESERVE_S:-0}")" node "$GPU/cuda-checks.mjs" "$BACKEND" || rc=1
  step "model goldens $BACKEND" "$f" "$(limit 90 "${CONF_RESERVE_S:-0}")" env \
    TESSERA_MODEL_FIXTURES="$ROOT/packages/models/test/fixtures/" node "$GPU/model-cases.mjs" "$BACKEND" || rc=1
  return $rc
}

conformance() {
  build || return 1
  local runs=${CONF_RUNS:-25} f="$OUT/conformance.log" rc=0
  local r=${CONF_RESERVE_S:-0} # kept for the bench when it follows in the same call
  # shellcheck disable=SC2086  # CONF_ARGS / GRAD_ARGS are word lists on purpose
  step "conformance test $BACKEND" "$f" "$(limit 240 $((r + 150)))" node "$GPU/conformance.mjs" test "$BACKEND" --runs "$runs" ${CONF_ARGS:-} || rc=1
  # shellcheck disable=SC2086
  step "conformance grad $BACKEND" "$f" "$(limit 180 $((r + 60)))" node "$GPU/conformance.mjs" grad --backend "$BACKEND" --runs "$runs" ${GRAD_ARGS:-} || rc=1
  step "conformance torch $BACKEND" "$f" "$(limit 120 "$r")" node "$GPU/conformance.mjs" torch "$BACKEND" || rc=1
  return $rc
}

bench() {
  build || return 1
  local f="$OUT/bench.log" rc=0
  local reserve=${TORCH_RESERVE_S:-150}
  # Tessera's own kernels first (TESSERA_CUBLAS_PATH unset), then, when pip's cuBLAS is here, again with it.
  # shellcheck disable=SC2086
  step "tessera bench" "$f" "$(limit 400 "$reserve")" env -u TESSERA_CUBLAS_PATH \
    node "$GPU/cuda-bench.mjs" --backend "$BACKEND" --out "$OUT/tessera.json" ${BENCH_ARGS:-} || rc=1
  local cublas=${TESSERA_CUBLAS_PATH:-$(find_cublas)}
  if [ -n "${BENCH_CUBLAS_ONLY-gemm}" ] && [ -n "$cublas" ]; then
    log "cuBLAS: TESSERA_CUBLAS_PATH=$cublas ($(ls "$cublas" | grep -E '^libcublas(Lt)?\.so' | tr '\n' ' '))"
    # shellcheck disable=SC2086
    step "tessera bench (cuBLAS)" "$f" "$(limit 120 "$reserve")" env TESSERA_CUBLAS_PATH="$cublas" \
      node "$GPU/cuda-bench.mjs" --backend "$BACKEND" --out "$OUT/tessera-cublas.json" --label tessera+cublas \
      --only "${BENCH_CUBLAS_ONLY-gemm}" ${BENCH_ARGS:-} || rc=1
  else
    log "cuBLAS run skipped (BENCH_CUBLAS_ONLY='${BENCH_CUBLAS_ONLY-gemm}', pip cuBLAS dir: '${cublas:-not found}')"
  fi
  # shellcheck disable=SC2086
  step "torch bench" "$f" "$(limit 300 15)" "$PYTHON" packages/bench/scripts/torch_cuda_bench.py \
    --out "$OUT/torch.json" ${TORCH_ARGS:-} || rc=1
  local extra=()
  [ -f "$OUT/tessera-cublas.json" ] && extra=(--tessera-cublas "$OUT/tessera-cublas.json")
  "$PYTHON" packages/bench/scripts/cuda_compare.py --tessera "$OUT/tessera.json" "${extra[@]}" \
    --torch "$OUT/torch.json" --out-dir "$OUT" >>"$f" 2>&1 || rc=1
  return $rc
}

[ $# -gt 0 ] || set -- all
steps=()
for w in "$@"; do
  case $w in
  all) steps+=(build checks conformance bench) ;;
  build | checks | conformance | bench) steps+=("$w") ;;
  *)
    echo "usage: bash scripts/gpu/run.sh {build|checks|conformance|bench|all}..." >&2
    exit 2
    ;;
  esac
done
log "run.sh ${*}: $(date -u +%FT%TZ), $(nproc) cores, budget ${BUDGET}s, OUT=$OUT"
# Conformance followed by the bench in one call: leave the bench BENCH_RESERVE_S seconds.
[[ " ${steps[*]} " == *" conformance "*" bench "* ]] && CONF_RESERVE_S=${CONF_RESERVE_S:-${BENCH_RESERVE_S:-240}}
status=0
for s in "${steps[@]}"; do
  "$s" || status=1
done

echo
echo "== summary ($((SECONDS - START)) s)" | tee -a "$OUT/run.log"
for l in "${SUMMARY[@]}"; do echo "  $l" | tee -a "$OUT/run.log"; done
for l in "$OUT"/conformance.log; do
  [ -f "$l" ] && grep -E "^(FAIL|cuda checks:|model cases on|conformance:|grad conformance:|torch goldens on)|passed|failed" "$l" | grep -v "^|" | tail -n 16
done
if [ -f "$OUT/comparison.md" ]; then
  echo
  cat "$OUT/comparison.md"
fi
exit $status
