#!/usr/bin/env bash
# bench/trace.sh — eddy trace flows against DuckDB (and jq) on the same capture.
#
# Generates a capture of N (default 1,000,000) events, five per flow
# (bench/gencapture: eddy's envelope, CloudEvents headers, a traceparent, a
# JSON payload of ~330 B with correlation_id at its top level), then compares
#
#   eddy trace flows file:CAPTURE --until end -o json
#
# with, over the same capture:
#
#   P3  DuckDB (PyPI duckdb 2.x, SET threads=2; bench/trace_duckdb.py): read_json
#       of the envelopes, json_extract_string of correlation_id / type /
#       occurred_at from the value, lag() per correlation id ordered by time,
#       count and quantiles per edge — the same per-edge hop latencies eddy
#       reports. The whole process is timed, as eddy's is (Python's start and
#       `import duckdb` included: about 0.15 s here). Goal: ratio >= 2.
#   jq -s 'group_by(.value|fromjson|.correlation_id)|length' CAPTURE
#   jq -s 'group_by(.correlation_id)|length' FLAT   (the payloads alone)
#       what a user reaches for without a query engine (JQ_RUNS pairs, default
#       1: jq on a million events takes long; JQ=0 skips jq).
#
# Before any timing, the answers are checked, and the script fails loudly if
# they differ: eddy's flows = DuckDB's distinct correlation ids = jq's groups;
# eddy's edges (from, to) = DuckDB's, with the same counts; each edge's p50 and
# p99 within TOL_MS (default 2 ms) or TOL_PCT (default 2 %) of DuckDB's,
# whichever is larger (eddy reports whole milliseconds; DuckDB's quantile_cont
# interpolates between the two middle hops).
#
# Then the commands run interleaved, A B A B … (bench/lib.sh): RUNS (default 5)
# pairs eddy/DuckDB after WARMUP (1), each figure with the load average and CPU
# steal before and after, marked UNDER LOAD above QUIET_LOAD. Ratios are
# DuckDB's (jq's) time / eddy's per pair: min–max and median. Then the Go
# benchmarks report allocations per event and the bytes a Correlator retains
# per open event (the goal is <= 250; payloads are not retained at all).
#
# CHECK_ONLY=1 stops after the check (the answers at full size, no timing).
# DuckDB lives in a virtualenv cached in $EDDY_BENCH_CACHE (default
# ~/.cache/eddy-bench/venv), made on first use with pip install 'duckdb>=2,<3'.
# A quick check of the method: N=20000 RUNS=2 bench/trace.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-1000000}
RUNS=${RUNS:-5}
JQ_RUNS=${JQ_RUNS:-1}
JQ=${JQ:-1}
TOL_MS=${TOL_MS:-2}
TOL_PCT=${TOL_PCT:-2}
CACHE=${EDDY_BENCH_CACHE:-$HOME/.cache/eddy-bench}
command -v jq >/dev/null || { echo "bench: jq is needed (apt-get install jq)" >&2; exit 1; }

py=$CACHE/venv/bin/python
if ! "$py" -c 'import duckdb, sys; sys.exit(duckdb.__version__.split(".")[0] != "2")' 2>/dev/null; then
	echo "bench: making the DuckDB virtualenv in $CACHE/venv" >&2
	mkdir -p "$CACHE"
	python3 -m venv "$CACHE/venv"
	"$CACHE/venv/bin/pip" install -q 'duckdb>=2,<3' >&2
fi
duckdb_v=$("$py" -c 'import duckdb; print(duckdb.__version__)')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/eddy" ./cmd/eddy
go run ./bench/gencapture -n "$N" -o "$work/capture.jsonl" -flat "$work/flat.jsonl"
cap=$work/capture.jsonl
echo "capture: $N events, $(du -m "$cap" | cut -f1) MB (payloads alone: $(du -m "$work/flat.jsonl" | cut -f1) MB); DuckDB $duckdb_v"

# --- The answers first: the same flows, edges, counts and quantiles.
"$work/eddy" trace flows "file:$cap" --until end -o json >"$work/eddy.json"
eddy_flows=$(jq .flows.total "$work/eddy.json")
jq -r '.edges[] | [.from, .to, .count, .p50_ms, .p99_ms] | @tsv' "$work/eddy.json" | sort >"$work/eddy.edges"
"$py" bench/trace_duckdb.py "$cap" --flows >"$work/duck.out"
duck_flows=$(sed -n 's/^flows\t//p' "$work/duck.out")
grep -v '^flows' "$work/duck.out" | sort >"$work/duck.edges"
echo "check: eddy $eddy_flows flows, $(wc -l <"$work/eddy.edges") edges; DuckDB $duck_flows correlation ids, $(wc -l <"$work/duck.edges") edges"
printf '  %-40s %22s %22s\n' "edge (eddy | DuckDB)" "count" "p50 ms / p99 ms"
join -t $'\t' <(awk -F'\t' '{print $1"->"$2"\t"$3"\t"$4"\t"$5}' "$work/eddy.edges") \
	<(awk -F'\t' '{print $1"->"$2"\t"$3"\t"$4"\t"$5}' "$work/duck.edges") |
	awk -F'\t' '{ printf "  %-40s %10s | %-10s %s/%s | %s/%s\n", $1, $2, $5, $3, $4, $6, $7 }'
if [ "$eddy_flows" != "$duck_flows" ]; then
	echo "bench: FAILED CHECK: eddy found $eddy_flows flows, DuckDB $duck_flows correlation ids" >&2
	exit 1
fi
if ! diff <(cut -f1-3 "$work/eddy.edges") <(cut -f1-3 "$work/duck.edges") >&2; then
	echo "bench: FAILED CHECK: eddy's edges or their counts (<) differ from DuckDB's (>)" >&2
	exit 1
fi
if ! paste "$work/eddy.edges" "$work/duck.edges" | awk -F'\t' -v ms="$TOL_MS" -v pct="$TOL_PCT" '
	function off(a, b,   d, t) { d = a - b; if (d < 0) d = -d; t = b * pct / 100; if (t < ms) t = ms; return d > t }
	off($4, $9) || off($5, $10) { printf "bench: FAILED CHECK: %s -> %s: eddy p50/p99 %s/%s ms, DuckDB %s/%s ms (tolerance %s ms or %s%%)\n", $1, $2, $4, $5, $9, $10, ms, pct > "/dev/stderr"; bad = 1 }
	END { exit bad }'; then
	exit 1
fi
echo "check: same flows, same edges and counts, p50 and p99 within ${TOL_MS} ms or ${TOL_PCT}% — ok"
[ -z "${CHECK_ONLY:-}" ] || exit 0

# --- Timing, interleaved.
eddy_run() {
	"$work/eddy" trace flows "file:$cap" --until end -o json >"$work/e.out"
	[ "$(jq .flows.total "$work/e.out")" = "$eddy_flows" ] || { echo "bench: eddy's flow count changed" >&2; return 1; }
}
duck_run() {
	"$py" bench/trace_duckdb.py "$cap" >"$work/d.out"
	[ "$(sort "$work/d.out" | cut -f1-3)" = "$(cut -f1-3 "$work/duck.edges")" ] || { echo "bench: DuckDB's edges changed" >&2; return 1; }
}
fig_begin "trace flows vs DuckDB"
ab "$RUNS" eddy_run duck_run
fig_end
emit_ab "trace flows ($N events)" "DuckDB $duckdb_v, threads=2" s "$N" "P3 >=2.0"

if [ "$JQ" != 0 ]; then
	jq_cap() { [ "$(jq -s 'group_by(.value|fromjson|.correlation_id)|length' "$cap")" = "$eddy_flows" ] || { echo "bench: jq's group count differs from eddy's flows" >&2; return 1; }; }
	jq_flat() { [ "$(jq -s 'group_by(.correlation_id)|length' "$work/flat.jsonl")" = "$eddy_flows" ] || { echo "bench: jq's group count (payloads) differs from eddy's flows" >&2; return 1; }; }
	WARMUP_SAVED=$WARMUP WARMUP=0
	fig_begin "trace flows vs jq over the capture"
	ab "$JQ_RUNS" eddy_run jq_cap
	fig_end
	emit_ab "trace flows ($N events)" "jq -s group_by over the capture" s "$N" ""
	fig_begin "trace flows vs jq over the payloads"
	ab "$JQ_RUNS" eddy_run jq_flat
	fig_end
	emit_ab "trace flows ($N events)" "jq -s group_by over the payloads" s "$N" ""
	WARMUP=$WARMUP_SAVED
fi

fig_begin "trace Go benchmarks"
go test ./trace -run '^$' -bench 'Correlate|ReadCapture' -benchtime 1000000x | grep -E '^Benchmark'
retained=$(go test ./trace -run '^$' -bench 'Retained' -benchtime 1x | grep -E '^Benchmark')
echo "$retained"
fig_end
retained_b=$(echo "$retained" | awk '{for (i = 1; i < NF; i++) if ($(i+1) == "retained-B/event") print $i}')
[ -z "$retained_b" ] || emit_one "trace memory retained per open event" "$retained_b" "the goal" 250 B "$(echo "250 / $retained_b" | bc -l | xargs printf '%.2fx')" "-" "" 1
