#!/usr/bin/env bash
# `hunt all` on a compose lab (docker-compose.yml) with 1, 2 and 4 executors, and the same
# data embedded, from a client on the host; with how many bytes crossed the client.
#
#   bench/lab_scale.sh                          # 20 M events, executors 1 2 4, release
#   EVENTS=2000000 EXECUTORS="2 8" bench/lab_scale.sh
#
# Settings (environment):
#   EVENTS      lab events to generate (default 20000000), DAYS (14), SEED (1)
#   EXECUTORS   executor counts to run `hunt all` with, in order (default "1 2 4")
#   EMBEDDED    1 (default): also run `hunt all` embedded (no --scheduler) on the same store
#   PROFILE     release (default) or debug: which binaries the images and the client are
#   MODELS      extra `hunt` arguments (default none: the shipped model sizes)
#   KEEP        1: leave the lab up at the end (deploy/lab.sh down removes it)
#   HUNTSMAN_LAB_PROJECT (default huntsman-bench), ports chosen by docker
#
# Needs the images' binaries (`cargo build --release --workspace --bins`), Garage
# (.ci/run installs it), the Python clients .ci/run makes (pyarrow reads the manifests),
# and the Docker engine with compose. On a bigger machine raise EXECUTORS and give each
# executor more memory (HUNTSMAN_LAB_EXECUTOR_MEMORY_POOL, see deploy/lab.env.example).
#
# Prints one line per run: wall seconds, each hunt's seconds and flagged count from its run
# manifest, and the query-result bytes (Arrow) that reached the client, summed over the
# phases' `client_bytes`.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS="${EVENTS:-20000000}"
DAYS="${DAYS:-14}"
SEED="${SEED:-1}"
EXECUTORS="${EXECUTORS:-1 2 4}"
EMBEDDED="${EMBEDDED:-1}"
PROFILE="${PROFILE:-release}"
PYTHON="${HUNTSMAN_PYTHON:-$HOME/.cache/huntsman/venv/bin/python}"
TARGET="${CARGO_TARGET_DIR:-$HOME/.cache/huntsman/target}"
HUNTSMAN="$TARGET/$PROFILE/huntsman"
export HUNTSMAN_LAB_PROJECT="${HUNTSMAN_LAB_PROJECT:-huntsman-bench}"
export HUNTSMAN_SCHEDULER_HOST_PORT="${HUNTSMAN_SCHEDULER_HOST_PORT:-0}"
export HUNTSMAN_LAB_S3_HOST_PORT="${HUNTSMAN_LAB_S3_HOST_PORT:-0}"
WORK="$(mktemp -d)"
export HUNTSMAN_LAB_ENV_FILE="$WORK/lab.env"

cleanup() {
  if [[ "${KEEP:-0}" != 1 ]]; then
    deploy/lab.sh down >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

max=1
for n in $EXECUTORS; do ((n > max)) && max=$n; done
[[ -x "$HUNTSMAN" ]] || { echo "bench: no client binary at $HUNTSMAN" >&2; exit 1; }

deploy/lab.sh up --executors "$max" --profile "$PROFILE" >&2
eval "$(deploy/lab.sh env)"
echo "bench: lab up with $max executors; store $MINIO_ENDPOINT, scheduler $HUNTSMAN_SCHEDULER" >&2

start=$SECONDS
(cd "$WORK" && "$HUNTSMAN" lab generate --out s3://lake/lab --days "$DAYS" --events "$EVENTS" \
  --seed "$SEED" >/dev/null)
echo "bench: generated $EVENTS events in $((SECONDS - start)) s" >&2

# Runs one `hunt all` and prints its line. $1 label, $2 binary, then extra client args.
run_hunts() {
  local label="$1" binary="$2"
  shift 2
  # shellcheck disable=SC2086
  (cd "$WORK" && "$PYTHON" - "$label" "$binary" "$@" -- ${MODELS:-} <<'PY'
import json, os, subprocess, sys, time
import pyarrow.fs as pafs

label, binary, *rest = sys.argv[1:]
split = rest.index("--")
client_args, models = rest[:split], rest[split + 1:]
base = f"s3://lake/runs/{label}"
cmd = [binary, *client_args, "--data", "s3://lake/lab/events", "hunt", "all",
       "--quiet", "--set", f"BASE_S3_PATH={base}", *models]
start = time.monotonic()
proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.monotonic() - start
if proc.returncode != 0:
    sys.exit(f"bench: {label}: hunt all failed ({proc.returncode}):\n{proc.stderr[-3000:]}")

endpoint = os.environ["MINIO_ENDPOINT"]
fs = pafs.S3FileSystem(access_key=os.environ["MINIO_ACCESS_KEY"],
                       secret_key=os.environ["MINIO_SECRET_KEY"],
                       endpoint_override=endpoint.split("://", 1)[1],
                       scheme=endpoint.split("://", 1)[0], region="us-east-1")
hunts = {}
for info in fs.get_file_info(pafs.FileSelector(f"lake/runs/{label}/results", recursive=True)):
    if info.base_name != "manifest.json":
        continue
    with fs.open_input_stream(info.path) as f:
        manifest = json.loads(f.read())
    hunts[manifest["hunt"]] = manifest
per_hunt = ", ".join(
    f"{h} {m['seconds']:.0f} s ({m['results']['flagged']} flagged)" for h, m in sorted(hunts.items()))
result_bytes = sum(p["client_bytes"] for m in hunts.values() for p in m["phases"])
print(f"{label}: {wall:.0f} s; {per_hunt}; query results to the client "
      f"{result_bytes / 2**20:.2f} MiB", flush=True)
PY
  )
}

for n in $EXECUTORS; do
  deploy/lab.sh scale "$n" >&2
  run_hunts "$n-executors" "$HUNTSMAN" --scheduler "$HUNTSMAN_SCHEDULER"
done
if [[ "$EMBEDDED" == 1 ]]; then
  run_hunts "embedded" "$HUNTSMAN"
fi
