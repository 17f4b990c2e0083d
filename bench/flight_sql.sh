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
# Findings-like columns from pyarrow compute alone (no numpy): a multiplicative hash of
# the row number picks hosts, images and values.
import sys
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
path, rows = sys.argv[1], int(sys.argv[2])
i = pa.array(range(rows), pa.int64())
h = pc.bit_wise_and(pc.multiply(i, 2654435761), 0xFFFFFFFF)
bits = lambda shift, mask: pc.bit_wise_and(pc.shift_right(h, shift), mask)
text = lambda a: pc.cast(a, pa.string())
hosts = pa.array([f"WS{n:04d}.corp.example" for n in range(512)])
images = pa.array([r"C:\Windows\System32\svchost.exe", r"C:\Program Files\App\app.exe",
                   r"C:\Users\Public\implant.exe", r"C:\Windows\explorer.exe"])
table = pa.table({
    "processguid": pc.binary_join_element_wise("{", text(i), "-1111-2222-3333-444455556666}", ""),
    "destinationip": pc.binary_join_element_wise(
        "10", text(bits(16, 255)), text(bits(8, 255)), text(bits(0, 255)), "."),
    "destinationport": text(pc.add(bits(4, 65533), 1)),
    "host": pc.take(hosts, bits(0, 511)),
    "image": pc.take(images, bits(9, 3)),
    "first_seen_ns": pc.add(pc.multiply(h, 1000), 1_700_000_000_000_000_000),
    "connections": pc.cast(pc.add(bits(2, 8191), 3), pa.float64()),
    "regularity": pc.divide(pc.cast(bits(5, 1023), pa.float64()), 1023.0),
    "c2_score": pc.divide(pc.cast(bits(13, 1023), pa.float64()), 1023.0),
    "flagged": pc.equal(bits(20, 1023), 0),
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
