#!/usr/bin/env bash
# bench/soak.sh DURATION [INTERVAL] — a live `eddy trace flows` on the demo,
# for DURATION (e.g. 60m), its memory sampled every INTERVAL seconds (default
# 10): does a live trace run in constant memory?
#
# Starts `eddy demo` (embedded Kafka, the shop at its default rate) and
#
#   eddy trace flows 'kafka:/.*/' --context demo --flow-timeout 30s -o json
#
# against it, then samples the trace process's RSS (/proc) and its Go heap
# (EDDY_TRACE_MEMSTATS, written by eddy itself) into $OUT (default
# $TMPDIR/eddy-soak-DATE.csv): unix_seconds,rss_kb,heap_alloc,heap_inuse,heap_objects.
# At the end (or on Ctrl-C) it stops both, prints the trace's final report's
# flow and event counts, and first / peak / last RSS and heap with the slope
# of a least-squares line through the samples after the first flow timeout
# (KB per hour): about zero for constant memory. The load average and CPU
# steal are printed at the start and the end, and the run marked UNDER LOAD
# above QUIET_LOAD (bench/lib.sh): a busy machine slows the demo and the trace.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${1:?usage: bench/soak.sh DURATION [INTERVAL], e.g. bench/soak.sh 60m 10}
INTERVAL=${2:-10}
TIMEOUT=${FLOW_TIMEOUT:-30s}
OUT=${OUT:-${TMPDIR:-/tmp}/eddy-soak-$(date -u +%Y%m%dT%H%M%SZ).csv}
secs=$(bench_seconds "$DURATION")

work=$(mktemp -d)
demo_pid= trace_pid=
cleanup() {
	[ -n "$trace_pid" ] && kill "$trace_pid" 2>/dev/null || true
	[ -n "$demo_pid" ] && kill "$demo_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$work/eddy" ./cmd/eddy
export EDDY_CONFIG=$work/config.yaml
"$work/eddy" demo --port 0 >"$work/demo.log" 2>&1 &
demo_pid=$!
# The demo names its context in the config once the cluster is up.
for _ in $(seq 600); do
	grep -q demo "$EDDY_CONFIG" 2>/dev/null && break
	kill -0 "$demo_pid" || { cat "$work/demo.log" >&2; exit 1; }
	sleep 0.1
done
grep -q demo "$EDDY_CONFIG" || { echo "soak: the demo did not start" >&2; exit 1; }

EDDY_TRACE_MEMSTATS=$work/heap.csv "$work/eddy" trace flows 'kafka:/.*/' --context demo --flow-timeout "$TIMEOUT" -o json \
	>"$work/report.json" 2>"$work/trace.log" &
trace_pid=$!
echo "soak: demo pid $demo_pid, trace pid $trace_pid, $DURATION, sampling every ${INTERVAL}s into $OUT" >&2

fig_begin "trace soak"
echo "unix_seconds,rss_kb,heap_alloc,heap_inuse,heap_objects" >"$OUT"
end=$(($(date +%s) + secs))
while [ "$(date +%s)" -lt "$end" ]; do
	kill -0 "$trace_pid" 2>/dev/null || { echo "soak: the trace exited early" >&2; cat "$work/trace.log" >&2; exit 1; }
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$trace_pid/status")
	heap=$( (tail -n1 "$work/heap.csv" || true) 2>/dev/null | cut -d, -f2-4)
	echo "$(date +%s),$rss,${heap:-,,}" >>"$OUT"
	fig_sample
	sleep "$INTERVAL"
done
fig_end
kill -INT "$trace_pid"
wait "$trace_pid" || true
trace_pid=
python3 - "$OUT" "$work/report.json" <<'EOF'
import csv, json, re, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["rss_kb"]]
try:
    rep = json.load(open(sys.argv[2]))
    print(f"report: flows {rep['flows']['total']} ({rep['flows']['complete']} complete, {rep['flows']['dead_lettered']} dead-lettered), events {rep['events']['total']}")
except Exception as e:
    print(f"report: unreadable ({e})")
t0 = int(rows[0]["unix_seconds"])
print(f"duration {int(rows[-1]['unix_seconds']) - t0} s, {len(rows)} samples")
EOF
# The fit starts after two flow timeouts: by then flows are finalised as
# fast as they start.
warm=$((2 * $(bench_seconds "$TIMEOUT")))
python3 bench/py/memfit.py "$OUT" "$warm"
