"""Real Arrow clients against `huntsman serve`: ADBC (DB-API) and pyarrow.flight.

Each mode prints one JSON object of what the clients observed; the Rust tests in
tests/tests/flight_sql.rs start the servers and assert on it. Modes:

  e2e      list tables, fetch a hunt's findings, run live SQL with Huntsman's
           functions, use a prepared statement; compares with the stored Parquet and
           with answers computed here from the raw events
  refused  wrong password, no credentials, a forged token, an unknown table, a syntax
           error
  expiry   log in, wait past the token's lifetime, call again
  abandon  start large streams and drop them after one batch, then query again
  probe    log in and run SELECT 1, reporting the result or the error
  bench    pull a table through ADBC and read its Parquet locally, timing both
"""

import argparse
import ipaddress
import json
import sys
import time

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flight_sql
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.flight as flight
import pyarrow.parquet as pq


def connect(args, user=None, password=None):
    kwargs = {}
    if user is not None:
        kwargs["username"] = user
        kwargs["password"] = password
    if args.tls_root:
        with open(args.tls_root) as f:
            kwargs[adbc_driver_flightsql.DatabaseOptions.TLS_ROOT_CERTS.value] = f.read()
    # The server has no transactions: stay in autocommit, as a read-only client does.
    return flight_sql.connect(args.uri, db_kwargs=kwargs, autocommit=True)


def flight_client(args):
    if args.tls_root:
        with open(args.tls_root, "rb") as f:
            return flight.FlightClient(args.uri, tls_root_certs=f.read())
    return flight.FlightClient(args.uri)


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def statement_query(sql):
    """A Flight SQL CommandStatementQuery packed in a protobuf Any."""
    command = field(1, sql.encode())
    type_url = b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery"
    return flight.FlightDescriptor.for_command(field(1, type_url) + field(2, command))


def raw_query(client, sql, headers):
    """Runs `sql` through plain pyarrow.flight with the given call headers."""
    options = flight.FlightCallOptions(headers=headers)
    info = client.get_flight_info(statement_query(sql), options)
    return client.do_get(info.endpoints[0].ticket, options).read_all()


def error_text(e):
    return f"{type(e).__name__}: {e}"


def table_names(conn):
    """Every table as schema.table, from ADBC's GetObjects (GetTables underneath)."""
    objects = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
    names = []
    for catalog in objects:
        for schema in catalog["catalog_db_schemas"] or []:
            for table in schema["db_schema_tables"] or []:
                names.append(f'{schema["db_schema_name"]}.{table["table_name"]}')
    return sorted(names)


def sort_keys(table, keys):
    keys = [k for k in keys if k in table.column_names]
    return table.sort_by([(k, "ascending") for k in keys]) if keys else table


def e2e(args):
    out = {}
    conn = connect(args, args.user, args.password)
    cur = conn.cursor()
    out["tables"] = table_names(conn)
    schema = conn.adbc_get_table_schema(args.hunt, db_schema_filter="findings")
    out["findings_schema_columns"] = schema.names

    # The stored findings, exactly.
    cur.execute(f'SELECT * FROM findings."{args.hunt}"')
    served = cur.fetch_arrow_table()
    stored = pq.read_table(args.findings)
    keys = args.keys.split(",")
    served, stored = sort_keys(served, keys), sort_keys(stored, keys)
    out["findings_rows"] = served.num_rows
    out["stored_rows"] = stored.num_rows
    out["findings_columns_equal"] = served.column_names == stored.column_names
    out["findings_equal"] = served.cast(stored.schema).equals(stored) if (
        out["findings_columns_equal"]) else False

    # Live SQL with Huntsman's functions, against answers computed here.
    events = ds.dataset(args.events, format="parquet").to_table(
        columns=["winlog_event_id", "winlog_event_data_processguid", "event_created",
                 "winlog_event_data_destinationip"])
    conns = events.filter(pc.equal(events["winlog_event_id"], 3))
    grouped = conns.group_by("winlog_event_data_processguid").aggregate(
        [("event_created", "min"), ("event_created", "max"), ("event_created", "count")])
    expected = {}
    for row in grouped.to_pylist():
        n = row["event_created_count"]
        if row["winlog_event_data_processguid"] is None or n < 2:
            continue
        duration = (row["event_created_max"] - row["event_created_min"]) / 1e9
        expected[row["winlog_event_data_processguid"]] = (n, duration / (n - 1))
    cur.execute(
        "SELECT winlog_event_data_processguid AS g, "
        "inter_arrival_stats(event_created)['count'] AS n, "
        "inter_arrival_stats(event_created)['mean_s'] AS mean_s "
        "FROM events WHERE winlog_event_id = 3 AND winlog_event_data_processguid IS NOT NULL "
        "GROUP BY 1 HAVING count(*) >= 2")
    live = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    out["timing_groups"] = len(expected)
    out["timing_mismatches"] = sorted(
        g for g, (n, mean) in expected.items()
        if g not in live or live[g][0] != n or abs(live[g][1] - mean) > 1e-6 * max(1.0, mean)
    )[:5]
    out["timing_extra"] = len(set(live) - set(expected))

    ips = sorted({ip for ip in conns["winlog_event_data_destinationip"].to_pylist() if ip})
    checkable = {}
    for text in ips:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            continue
        if ip.version == 4 and (ip in ipaddress.ip_network("10.0.0.0/8")
                                or ip in ipaddress.ip_network("172.16.0.0/12")
                                or ip in ipaddress.ip_network("192.168.0.0/16")):
            checkable[text] = True
        elif ip.is_global:
            checkable[text] = False
    values = ", ".join("('" + ip.replace("'", "''") + "')" for ip in checkable)
    cur.execute(f"SELECT ip, is_private_ip(ip) FROM (VALUES {values}) AS v(ip)")
    answers = dict(cur.fetchall())
    out["ips_checked"] = len(checkable)
    out["ips_private"] = sum(checkable.values())
    out["ip_mismatches"] = sorted(ip for ip, p in checkable.items() if answers.get(ip) != p)[:5]

    # A prepared statement (no parameters), run twice.
    cur.adbc_prepare(f'SELECT count(*) AS n FROM findings."{args.hunt}"')
    cur.execute(f'SELECT count(*) AS n FROM findings."{args.hunt}"')
    first = cur.fetchone()[0]
    cur.execute(f'SELECT count(*) AS n FROM findings."{args.hunt}"')
    out["prepared_counts"] = [first, cur.fetchone()[0]]
    cur.close()
    conn.close()

    # pyarrow.flight, as the README shows it.
    client = flight_client(args)
    header = client.authenticate_basic_token(args.user, args.password)
    table = raw_query(client, f'SELECT count(*) AS n FROM findings."{args.hunt}"', [header])
    out["pyarrow_flight_count"] = table.column(0)[0].as_py()
    client.close()
    print(json.dumps(out))


def refused(args):
    out = {}
    try:
        conn = connect(args, args.user, args.password + "x")
        conn.cursor().execute("SELECT 1")
        out["wrong_password"] = "accepted"
    except Exception as e:  # noqa: BLE001 - the error is what is observed
        out["wrong_password"] = error_text(e)
    try:
        conn = connect(args)
        cur = conn.cursor()
        cur.execute(f'SELECT * FROM findings."{args.hunt}"')
        out["no_credentials"] = f"accepted {cur.fetch_arrow_table().num_rows} rows"
    except Exception as e:  # noqa: BLE001
        out["no_credentials"] = error_text(e)
    client = flight_client(args)
    for name, headers in [
        ("raw_no_credentials", []),
        ("forged_token", [(b"authorization", b"Bearer " + b"A" * 43)]),
        ("malformed_header", [(b"authorization", b"Bearer")]),
    ]:
        try:
            rows = raw_query(client, f'SELECT * FROM findings."{args.hunt}"', headers).num_rows
            out[name] = f"accepted {rows} rows"
        except flight.FlightUnauthenticatedError as e:
            out[name] = "Unauthenticated: " + str(e)
        except Exception as e:  # noqa: BLE001
            out[name] = error_text(e)
    client.close()
    conn = connect(args, args.user, args.password)
    cur = conn.cursor()
    for name, sql in [
        ("unknown_table", 'SELECT * FROM findings."no-such-hunt"'),
        ("syntax_error", "SELEC winlog_computer_name FROM events"),
        ("ddl", "CREATE TABLE x AS SELECT 1"),
    ]:
        try:
            cur.execute(sql)
            cur.fetchall()
            out[name] = "accepted"
        except Exception as e:  # noqa: BLE001
            out[name] = error_text(e)
    cur.execute("SELECT 1")
    out["still_serving"] = cur.fetchone()[0] == 1
    conn.close()
    print(json.dumps(out))


def expiry(args):
    out = {}
    client = flight_client(args)
    header = client.authenticate_basic_token(args.user, args.password)
    out["before"] = raw_query(client, "SELECT 41 + 1 AS x", [header]).column(0)[0].as_py()
    time.sleep(args.wait)
    try:
        raw_query(client, "SELECT 1", [header])
        out["after"] = "accepted"
    except flight.FlightUnauthenticatedError as e:
        out["after"] = "Unauthenticated: " + str(e)
    except Exception as e:  # noqa: BLE001
        out["after"] = error_text(e)
    header = client.authenticate_basic_token(args.user, args.password)
    out["again"] = raw_query(client, "SELECT 7 AS x", [header]).column(0)[0].as_py()
    client.close()
    print(json.dumps(out))


def abandon(args):
    out = {"abandoned": 0}
    for _ in range(args.rounds):
        client = flight_client(args)
        header = client.authenticate_basic_token(args.user, args.password)
        options = flight.FlightCallOptions(headers=[header])
        info = client.get_flight_info(statement_query(args.sql), options)
        reader = client.do_get(info.endpoints[0].ticket, options)
        reader.read_chunk()
        out["abandoned"] += 1
        del reader
        client.close()
    conn = connect(args, args.user, args.password)
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM events")
    out["count_after"] = cur.fetchone()[0]
    conn.close()
    print(json.dumps(out))


def probe(args):
    try:
        conn = connect(args, args.user, args.password)
        cur = conn.cursor()
        cur.execute("SELECT 1")
        out = {"result": cur.fetchone()[0]}
        conn.close()
    except Exception as e:  # noqa: BLE001
        out = {"error": error_text(e)}
    print(json.dumps(out))


def bench(args):
    conn = connect(args, args.user, args.password)
    cur = conn.cursor()
    runs = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        cur.execute(args.sql)
        table = cur.fetch_arrow_table()
        runs.append(time.perf_counter() - start)
    local = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        stored = pq.read_table(args.findings)
        local.append(time.perf_counter() - start)
    conn.close()
    print(json.dumps({
        "rows": table.num_rows, "columns": table.num_columns,
        "adbc_seconds": min(runs), "local_seconds": min(local),
        "adbc_rows_per_s": table.num_rows / min(runs),
        "local_rows_per_s": stored.num_rows / min(local),
    }))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["e2e", "refused", "expiry", "abandon", "probe", "bench"])
    p.add_argument("--uri", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--tls-root")
    p.add_argument("--hunt", default="c2-beacon")
    p.add_argument("--keys", default="processguid,destinationip,destinationport")
    p.add_argument("--findings")
    p.add_argument("--events")
    p.add_argument("--sql", default="SELECT * FROM events")
    p.add_argument("--wait", type=float, default=3.0)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    {"e2e": e2e, "refused": refused, "expiry": expiry, "abandon": abandon,
     "probe": probe, "bench": bench}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
