#!/usr/bin/env bash
# The first run of Huntsman's GPU backend, for a machine with an NVIDIA GPU (see
# docs/gpu.md). It has not been run yet: nothing in Huntsman has run on a GPU so far.
#
#   deploy/gpu-check.sh                  # build, tests, benchmarks, hunts; ~30-60 min
#   OUT=/tmp/gpu-check deploy/gpu-check.sh
#   STEPS="build test" deploy/gpu-check.sh
#
# Steps (STEPS, default all of them, in this order):
#   build  release build with --features cuda, CUDARC_CUDA_VERSION from nvidia-smi
#   test   the neural, autoencoder and sequence unit tests with USE_GPU=true: the device
#          path tests then run on the GPU and compare it with the CPU (tolerance 1e-2)
#   bench  autoencoder 1000-256-32-256-1000 (scoring, and the 10 000-row fit) and the
#          LSTM's scoring throughput, GPU then CPU (criterion; CPU_FIT=0 skips the CPU fit,
#          which takes about 10 minutes)
#   hunt   a generated lab (LAB_EVENTS, default 200000), `hunt all` with and without
#          USE_GPU, the findings and evaluations diffed
#
# The build downloads cubecl-cuda's LLVM bundle (network needed the first time); do not set
# DOCS_RS, which skips it and leaves the binaries unlinkable.
#
# Exits 2 with a message when there is no GPU, 1 when a step fails; differences between
# GPU and CPU findings are reported in summary.txt, not treated as failures.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "gpu-check: $*" >&2; }

if ! command -v nvidia-smi >/dev/null 2>&1; then
  say "no NVIDIA GPU here: nvidia-smi is not installed (run this on a machine with an NVIDIA GPU and its driver)"
  exit 2
fi
if ! gpus="$(nvidia-smi -L 2>/dev/null)" || [ -z "$gpus" ]; then
  say "no NVIDIA GPU here: nvidia-smi lists no device"
  exit 2
fi

STEPS="${STEPS:-build test bench hunt}"
OUT="${OUT:-$(mktemp -d -t gpu-check.XXXXXX)}"
LAB_EVENTS="${LAB_EVENTS:-200000}"
CPU_FIT="${CPU_FIT:-1}"
FEATURES="huntsman/cuda,huntsman-executor/cuda"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY" >&2; }

# The driver's CUDA version, as cudarc spells it: the newest version cudarc knows that is
# not newer than the driver's (a driver accepts older API versions).
if [ -z "${CUDARC_CUDA_VERSION:-}" ]; then
  reported="$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p' | head -n 1)"
  if [ -z "$reported" ]; then
    say "cannot read the CUDA version from nvidia-smi; set CUDARC_CUDA_VERSION (e.g. 12080 for 12.8)"
    exit 1
  fi
  read -r major minor <<<"$reported"
  want=$((major * 1000 + minor * 10))
  CUDARC_CUDA_VERSION=""
  for v in 11040 11050 11060 11070 11080 12000 12010 12020 12030 12040 12050 12060 12080 \
           12090 13000 13010 13020 13030 13040; do
    if [ "$v" -le "$want" ]; then CUDARC_CUDA_VERSION="$v"; fi
  done
  if [ -z "$CUDARC_CUDA_VERSION" ]; then
    say "the driver's CUDA $major.$minor is older than cudarc supports (11.4)"
    exit 1
  fi
fi
export CUDARC_CUDA_VERSION
unset DOCS_RS
note "GPUs: $(echo "$gpus" | tr '\n' ';')"
note "CUDARC_CUDA_VERSION=$CUDARC_CUDA_VERSION; output in $OUT"
if ! ldconfig -p 2>/dev/null | grep -q libnvrtc; then
  say "warning: libnvrtc is not in the linker cache; cubecl needs NVRTC at run time (CUDA toolkit or the nvidia-cuda-nvrtc wheel on LD_LIBRARY_PATH)"
fi

TARGET="${CARGO_TARGET_DIR:-target}"
HUNTSMAN="$TARGET/release/huntsman"
step() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
run() {
  local name="$1"; shift
  say "$name: $*"
  if "$@" >"$OUT/$name.log" 2>&1; then
    note "ok     $name"
  else
    note "FAILED $name (see $OUT/$name.log)"
    tail -n 30 "$OUT/$name.log" >&2
    exit 1
  fi
}

if step build; then
  run build cargo build --release --locked --workspace --bins --features "$FEATURES"
fi

if step test; then
  run test-gpu env USE_GPU=true cargo test --release --locked --workspace --lib \
    --features "$FEATURES" -- neural autoencoder sequence
  run test-cluster env USE_GPU=true cargo test --release --locked --workspace \
    --features "$FEATURES" --test cluster
fi

if step bench; then
  run bench-ae-gpu env USE_GPU=true cargo bench --locked --workspace --features "$FEATURES" \
    --bench autoencoder
  if [ "$CPU_FIT" = 1 ]; then
    run bench-ae-cpu cargo bench --locked --workspace --features "$FEATURES" --bench autoencoder
  else
    run bench-ae-cpu cargo bench --locked --workspace --features "$FEATURES" --bench autoencoder -- score
  fi
  run bench-seq-gpu env USE_GPU=true cargo bench --locked --workspace --features "$FEATURES" \
    --bench sequence -- score
  run bench-seq-cpu cargo bench --locked --workspace --features "$FEATURES" --bench sequence -- score
  for f in bench-ae-gpu bench-ae-cpu bench-seq-gpu bench-seq-cpu; do
    grep -E '^(autoencoder|sequence)-|time:|thrpt:' "$OUT/$f.log" >>"$SUMMARY" || true
  done
fi

if step hunt; then
  [ -x "$HUNTSMAN" ] || run build cargo build --release --locked --workspace --bins --features "$FEATURES"
  lab="$OUT/lab"
  run lab "$HUNTSMAN" lab generate --out "$lab" --events "$LAB_EVENTS" --seed 1 --overwrite
  for mode in cpu gpu; do
    use_gpu=false
    [ "$mode" = gpu ] && use_gpu=true
    start=$(date +%s)
    run "hunt-$mode" env USE_GPU="$use_gpu" "$HUNTSMAN" --data "$lab/events" hunt all --quiet \
      --set "BASE_S3_PATH=$OUT/store-$mode"
    note "hunt all on the $mode: $(( $(date +%s) - start )) s"
    cp "$OUT/hunt-$mode.log" "$OUT/findings-$mode.txt"
    run "eval-$mode" "$HUNTSMAN" eval --labels "$lab/labels" --format json \
      --set "BASE_S3_PATH=$OUT/store-$mode"
  done
  grep -i "neural backend\|warning" "$OUT/hunt-gpu.log" >>"$SUMMARY" || true
  if diff -u "$OUT/findings-cpu.txt" "$OUT/findings-gpu.txt" >"$OUT/findings.diff"; then
    note "findings: identical with and without USE_GPU"
  else
    note "findings: differ with and without USE_GPU ($(grep -c '^[-+][^-+]' "$OUT/findings.diff") lines; see $OUT/findings.diff)"
  fi
  if diff -u "$OUT/eval-cpu.log" "$OUT/eval-gpu.log" >"$OUT/eval.diff"; then
    note "evaluation: identical"
  else
    note "evaluation: differs (see $OUT/eval.diff)"
  fi
fi

say "done; summary in $SUMMARY"
cat "$SUMMARY"
