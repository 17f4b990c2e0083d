#!/usr/bin/env bash
# Writes fuzz/seeds/model/: the models the shipped hunts train on a small generated lab
# (small networks, few trees), each file under 96 KiB, named <hunt>-<file>. Run it after a
# `cargo build --workspace --bins`; HUNTSMAN_BIN names another client binary.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
bin="${HUNTSMAN_BIN:-$target/debug/huntsman}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" lab generate --out "$work/lab" --days 7 --events 20000 --seed 3 >/dev/null
"$bin" --data "$work/lab/events" hunt all --set "BASE_S3_PATH=$work/runs" \
  --set PROCESS_HIDDEN_DIM=16 --set PROCESS_EMBEDDING_DIM=8 --set PROCESS_NUM_EPOCHS=1 \
  --set PROCESS_MAX_SEQ_LEN=32 --set AD_DL_AUTOENCODER_HIDDEN_DIM=32 \
  --set WS_AUTOENCODER_MAX_BATCHES=100 --set PROCESS_IF_N_ESTIMATORS=8 >/dev/null
out=fuzz/seeds/model
mkdir -p "$out"
find "$work/runs/models" -type f -size -96k | while read -r f; do
  hunt="$(basename "$(dirname "$(dirname "$f")")")"
  cp "$f" "$out/$hunt-$(basename "$f")"
done
ls "$out" | wc -l | xargs echo "model seeds:"
