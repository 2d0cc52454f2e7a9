#!/usr/bin/env bash
# The GPU check, in one call on a machine with an NVIDIA GPU, PyTorch and no network:
#   1. builds the addon against that machine's PyTorch LibTorch (CUDA), include and library paths
#      taken from Python (no find_package, which often fails on a wheel's CUDA look-ups);
#   2. runs the test files that matter with LIVERSEG_TEST_DEVICE=cuda;
#   3. benchmarks training steps at 128^3 (batch 2 and 4, fp32 and bf16) against the same network
#      in that machine's PyTorch (eager fp32 and autocast), and end-to-end segment() of a
#      512x512x200 phantom; one JSON object per figure.
# Needs only the repository, node_modules and Node (from .gpu/, made by scripts/gpu-bundle.sh, when
# the machine has none). Writes logs and results under $OUT (default ./gpu-check-out).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
T0=$(date +%s)
say() { echo "[gpu-check +$(( $(date +%s) - T0 ))s] $*"; }

if ! command -v node >/dev/null 2>&1; then
  mkdir -p /tmp/liverseg-node
  xz -dc .gpu/node.xz > /tmp/liverseg-node/node && chmod +x /tmp/liverseg-node/node
  export PATH=/tmp/liverseg-node:$PATH
fi
if [ ! -d node_modules ] || [ ! -f lib/index.js ]; then
  xz -dc .gpu/deps.tar.xz | tar -xf -
fi
say "node $(node --version); $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null)"
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'

say "building the addon against ${PY}'s torch"
export CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
if ! node node_modules/cmake-js/bin/cmake-js compile --out build --CDLIVERSEG_TORCH_FROM_PYTHON=ON --CDLIVERSEG_PYTHON="$PY" > "$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  say "build failed"
  exit 1
fi
grep -E "liverseg: LibTorch" "$OUT/build.log"
node -e 'const b=require("./lib/native/loader").backend(); console.log(JSON.stringify(b)); if(!b.cudaAvailable) process.exit(3)' || { say "the addon sees no CUDA device"; exit 1; }

say "tests on CUDA"
# GPU_CHECK_TESTS and GPU_CHECK_BENCH (full | train4 | none) narrow a rerun to what changed.
TESTS=${GPU_CHECK_TESTS:-tests/cuda.test.ts tests/resunet.test.ts tests/native-errors.test.ts tests/dice.test.ts tests/event-loop.test.ts tests/segment.test.ts tests/training.test.ts}
LIVERSEG_TEST_DEVICE=cuda CI=true timeout 300 node node_modules/jest/bin/jest.js --ci $TESTS > "$OUT/tests.log" 2>&1
echo "jest exit $?"
grep -E "^(PASS|FAIL)|Tests:|✕" "$OUT/tests.log" | head -40

BENCH=${GPU_CHECK_BENCH:-full}
[ "$BENCH" = none ] && { say "done"; exit 0; }
say "benchmarks"
: > "$OUT/bench.jsonl"
bench() { timeout 120 "$@" --device cuda --repeats 10 --warmup 3 2>>"$OUT/bench.err" | tee -a "$OUT/bench.jsonl"; }
BATCHES="2 4"
[ "$BENCH" = train4 ] && BATCHES=4
for batch in $BATCHES; do
  for amp in off bf16; do
    bench node bench/liverseg_case.js --case train --size 128 --batch $batch --amp $amp
    bench $PY bench/peer/bench_peer.py --case train --size 128 --batch $batch --amp $amp
  done
done
[ "$BENCH" = train4 ] && { say "done"; exit 0; }
bench node bench/liverseg_case.js --case forward --size 128 --batch 1 --amp bf16
bench $PY bench/peer/bench_peer.py --case forward --size 128 --batch 1 --amp bf16
timeout 180 node bench/liverseg_case.js --case segment --device cuda --amp bf16 --repeats 5 --warmup 2 2>>"$OUT/bench.err" | tee -a "$OUT/bench.jsonl"
say "done"
