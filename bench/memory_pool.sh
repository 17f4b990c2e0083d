#!/usr/bin/env bash
# `huntsman --memory-pool POOL hunt all` on the embedded cluster over a generated lab
# (default 20 M events), with the client's peak resident memory, the most bytes its
# executor had spilled to disk at one time, and each hunt's time and flagged count.
#
#   bench/memory_pool.sh                       # 20 M events, --memory-pool 1GiB, release
#   POOLS="1GiB 0" bench/memory_pool.sh        # also unbounded (0), for comparison
#   EVENTS=2000000 PROFILE=debug bench/memory_pool.sh
#
# Settings (environment):
#   EVENTS (20000000), DAYS (14), SEED (42)   the lab; generated once into LAB
#   LAB       where the lab is kept between runs (default a cache folder per size and seed)
#   POOLS     --memory-pool values to run, in order (default "1GiB"; 0 is unbounded)
#   PROFILE   release (default) or debug: which client binary
#
# Needs the client binary (`cargo build --release --workspace --bins`), GNU time
# (/usr/bin/time) and python3. The embedded executor spills into its work directory
# under TMPDIR; this script points TMPDIR at a folder of its own and samples the
# DataFusion spill folders there twice a second (spill files are deleted once merged, so
# the number is the most on disk at one time, not the total written).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS="${EVENTS:-20000000}"
DAYS="${DAYS:-14}"
SEED="${SEED:-42}"
POOLS="${POOLS:-1GiB}"
PROFILE="${PROFILE:-release}"
TARGET="${CARGO_TARGET_DIR:-$HOME/.cache/huntsman/target}"
HUNTSMAN="$TARGET/$PROFILE/huntsman"
LAB="${LAB:-$HOME/.cache/huntsman/labs/$EVENTS-events-$DAYS-days-seed-$SEED}"
[[ -x "$HUNTSMAN" ]] || { echo "bench: no client binary at $HUNTSMAN" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench: needs GNU time at /usr/bin/time" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [[ ! -f "$LAB/.complete" ]]; then
  rm -rf "$LAB"
  mkdir -p "$LAB"
  start=$SECONDS
  "$HUNTSMAN" lab generate --out "$LAB" --days "$DAYS" --events "$EVENTS" --seed "$SEED" \
    >/dev/null
  touch "$LAB/.complete"
  echo "bench: generated $EVENTS events in $((SECONDS - start)) s into $LAB" >&2
fi
echo "bench: lab $(du -sh "$LAB/events" | cut -f1) of Parquet" >&2

for pool in $POOLS; do
  run="$WORK/run-$pool"
  mkdir -p "$run/tmp"
  (cd "$run" && TMPDIR="$run/tmp" /usr/bin/time -o "$run/time" -f '%e %M' \
    "$HUNTSMAN" --memory-pool "$pool" --data "$LAB/events" hunt all --quiet \
    >"$run/stdout" 2>"$run/stderr") &
  pid=$!
  peak_spill=0
  while kill -0 "$pid" 2>/dev/null; do
    # find fails when a spill file or the work directory goes away mid-walk (the run
    # ending removes it); what it printed still counts, and pipefail must not end the
    # script there.
    spill=$( { find "$run/tmp" -path '*/datafusion-*' -type f -printf '%s\n' 2>/dev/null \
      || true; } | awk '{ s += $1 } END { print s + 0 }')
    ((spill > peak_spill)) && peak_spill=$spill
    sleep 0.5
  done
  status=0
  wait "$pid" || status=$?
  if ((status != 0)); then
    echo "bench: --memory-pool $pool: hunt all failed ($status):" >&2
    tail -n 20 "$run/stderr" >&2
    continue
  fi
  read -r wall kib <"$run/time" || { echo "bench: no timing for --memory-pool $pool" >&2; continue; }
  python3 - "$run" "$pool" "$wall" "$kib" "$peak_spill" <<'PY'
import json, pathlib, sys

run, pool, wall, kib, spill = sys.argv[1:]
hunts = {}
for path in pathlib.Path(run, "huntsman-store").rglob("manifest.json"):
    manifest = json.loads(path.read_text())
    hunts[manifest["hunt"]] = manifest
per_hunt = ", ".join(
    f"{h} {m['seconds']:.0f} s ({m['results']['flagged']} flagged)"
    for h, m in sorted(hunts.items()))
print(f"--memory-pool {pool}: {float(wall):.0f} s, peak RSS {int(kib) / 2**20:.2f} GiB, "
      f"most spilled at once {int(spill) / 2**20:.0f} MiB; {per_hunt}", flush=True)
PY
done
