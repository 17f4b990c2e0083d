#!/usr/bin/env bash
# Runs the fuzz targets (all, or those named) with cargo-fuzz on nightly, each for RUNS
# executions or MAX_SECONDS, whichever comes first, and prints executions and crashes per
# target. A crash's input is left in fuzz/artifacts/<target>/: fix the bug, then move the
# input to fuzz/regressions/<target>/ so that `cargo test` replays it from then on.
#
#   fuzz/run.sh                          # every target, 1,000,000 runs or 30 minutes each
#   RUNS=100000 fuzz/run.sh model        # one target, fewer runs
#
# Settings: RUNS (1000000), MAX_SECONDS (1800), RSS_LIMIT_MB (2048), TIMEOUT_S (per input,
# 10), JOBS (parallel targets, 1), FUZZ_TARGET_DIR (a cache outside the clone).
set -euo pipefail
cd "$(dirname "$0")"

RUNS="${RUNS:-1000000}"
MAX_SECONDS="${MAX_SECONDS:-1800}"
RSS_LIMIT_MB="${RSS_LIMIT_MB:-2048}"
TIMEOUT_S="${TIMEOUT_S:-10}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/huntsman/fuzz-target}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

mapfile -t all < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^huntsman-fuzz$')
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

echo "building ${#targets[@]} targets (release, debug assertions, address sanitizer)"
if (($# == 0)); then
  cargo +nightly fuzz build --debug-assertions
else
  for t in "${targets[@]}"; do cargo +nightly fuzz build --debug-assertions "$t"; done
fi

report=()
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="artifacts/$t.log"
  before=$(find "artifacts/$t" -type f | wc -l)
  started=$SECONDS
  cargo +nightly fuzz run --debug-assertions "$t" "corpus/$t" "seeds/$t" "regressions/$t" -- \
    -runs="$RUNS" -max_total_time="$MAX_SECONDS" -rss_limit_mb="$RSS_LIMIT_MB" \
    -timeout="$TIMEOUT_S" -print_final_stats=1 >"$log" 2>&1 || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  after=$(find "artifacts/$t" -type f | wc -l)
  crashes=$((after - before))
  corpus=$(find "corpus/$t" -type f | wc -l)
  ((crashes == 0)) || status=1
  if [[ -z "$execs" ]]; then
    status=1
    execs="?"
    echo "$t: the run ended without final statistics; see fuzz/$log" >&2
  fi
  report+=("$(printf '%-22s %12s %8s %8s %7ss' "$t" "$execs" "$crashes" "$corpus" "$((SECONDS - started))")")
done

printf '\n%-22s %12s %8s %8s %8s\n' target executions crashes corpus time
printf '%s\n' "${report[@]}"
exit "$status"
