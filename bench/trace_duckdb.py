"""bench/trace_duckdb.py CAPTURE [--flows]: the per-edge hop latencies of
`eddy trace flows file:CAPTURE --until end -o json`, computed by DuckDB (the
anchor of bench/trace.sh, issue 18 P3).

Reads eddy's envelopes (one JSON object per line), takes correlation_id, type
and occurred_at out of each envelope's value (a JSON document in a string),
orders each correlation id's events by time, and pairs each event with the one
before it (lag()): the edge previous-type -> type and its hop in ms. Prints one
line per edge, tab-separated: from, to, count, p50 ms, p99 ms. With --flows it
first prints "flows N", the distinct correlation ids (for the check only: the
timed run computes the edges alone). Two threads, as eddy has two cores.
"""
import sys

import duckdb

EDGES = """
WITH ev AS (
  SELECT json_extract_string(value, '$.correlation_id') AS cid,
         json_extract_string(value, '$.type') AS typ,
         CAST(json_extract_string(value, '$.occurred_at') AS TIMESTAMP) AS ts
  FROM read_json(?, format = 'newline_delimited', columns = {value: 'VARCHAR'})
), hops AS (
  SELECT lag(typ) OVER w AS src, typ AS dst,
         date_diff('microsecond', lag(ts) OVER w, ts) / 1000.0 AS ms
  FROM ev WINDOW w AS (PARTITION BY cid ORDER BY ts)
)
SELECT src, dst, count(*) AS n, quantile_cont(ms, 0.5) AS p50, quantile_cont(ms, 0.99) AS p99
FROM hops WHERE src IS NOT NULL GROUP BY src, dst ORDER BY src, dst
"""

FLOWS = """
SELECT count(DISTINCT json_extract_string(value, '$.correlation_id'))
FROM read_json(?, format = 'newline_delimited', columns = {value: 'VARCHAR'})
"""


def main():
    path = sys.argv[1]
    con = duckdb.connect()
    con.execute("SET threads=2")
    out = []
    if "--flows" in sys.argv[2:]:
        out.append(f"flows\t{con.execute(FLOWS, [path]).fetchone()[0]}")
    for src, dst, n, p50, p99 in con.execute(EDGES, [path]).fetchall():
        out.append(f"{src}\t{dst}\t{n}\t{p50:.3f}\t{p99:.3f}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
