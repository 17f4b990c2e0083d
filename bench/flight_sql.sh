#!/usr/bin/env bash
# Flight SQL throughput: pull a findings-like table (ROWS rows, 10 columns) through ADBC
# from `huntsman serve` on loopback, and read the same Parquet locally with pyarrow.
#
#   bench/flight_sql.sh                 # release build, 10 M rows, embedded cluster
#   ROWS=1000000 bench/flight_sql.sh
#
# Needs the Python clients (.ci/run makes them; or HUNTSMAN_PYTHON). Set HUNTSMAN to a
# built binary to skip the build.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS="${ROWS:-10000000}"
PYTHON="${HUNTSMAN_PYTHON:-$HOME/.cache/huntsman/venv/bin/python}"
if [ -z "${HUNTSMAN:-}" ]; then
  cargo build --release -p huntsman --bin huntsman >&2
  HUNTSMAN="${CARGO_TARGET_DIR:-target}/release/huntsman"
fi
WORK="$(mktemp -d)"
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$PYTHON" - "$WORK/findings.parquet" "$ROWS" <<'PY'
import sys
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
path, rows = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(7)
hosts = np.array([f"WS{i:04d}.corp.example" for i in range(500)])
images = np.array([r"C:\Windows\System32\svchost.exe", r"C:\Program Files\App\app.exe",
                   r"C:\Users\Public\implant.exe", r"C:\Windows\explorer.exe"])
table = pa.table({
    "processguid": pa.array([f"{{{i:08x}-1111-2222-3333-444455556666}}" for i in range(rows)]),
    "destinationip": pa.array([f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}" for i in range(rows)]),
    "destinationport": pa.array(rng.integers(1, 65535, rows).astype(str)),
    "host": pa.array(hosts[rng.integers(0, len(hosts), rows)]),
    "image": pa.array(images[rng.integers(0, len(images), rows)]),
    "first_seen_ns": pa.array(rng.integers(1_700_000_000_000_000_000, 1_700_100_000_000_000_000, rows)),
    "connections": pa.array(rng.integers(3, 10_000, rows).astype(np.float64)),
    "regularity": pa.array(rng.random(rows)),
    "c2_score": pa.array(rng.random(rows)),
    "flagged": pa.array(rng.random(rows) > 0.999),
})
pq.write_table(table, path, row_group_size=1_000_000)
print(f"wrote {rows} rows, {table.num_columns} columns, {table.nbytes / 2**20:.0f} MiB in Arrow", file=sys.stderr)
PY

PASSWORD="bench-$(date +%s)"
USERS="$(printf '%s\n' "$PASSWORD" | "$HUNTSMAN" hash-password --user bench)"
HUNTSMAN_FLIGHT_USERS="$USERS" BASE_S3_PATH="$WORK/store" \
  "$HUNTSMAN" --data "$WORK/findings.parquet" --table "big=$WORK/findings.parquet" \
  serve --listen 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVER=$!
for _ in $(seq 1 600); do
  grep -q "Flight SQL at" "$WORK/serve.out" 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/serve.err" >&2; exit 1; }
  sleep 0.2
done
URI="$(sed -n 's/.*Flight SQL at //p' "$WORK/serve.out")"
echo "server at $URI" >&2
"$PYTHON" tests/python/flight_client.py bench --uri "$URI" --user bench \
  --password "$PASSWORD" --sql "SELECT * FROM big" --findings "$WORK/findings.parquet" \
  --rounds "${ROUNDS:-3}"
