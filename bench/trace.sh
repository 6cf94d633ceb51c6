#!/usr/bin/env bash
# bench/trace.sh — eddy trace flows against jq on the same capture.
#
# Generates a capture of N (default 1,000,000) events, five per flow
# (bench/gencapture: eddy's envelope, CloudEvents headers, a traceparent, a
# JSON payload of ~330 B with correlation_id at its top level), then times
#
#   eddy trace flows file:CAPTURE --until end -o json
#
# against what a user reaches for today, over the same data:
#
#   jq -s 'group_by(.value|fromjson|.correlation_id)|length'  CAPTURE    (the capture itself)
#   jq -s 'group_by(.correlation_id)|length'                  FLAT       (the payloads alone,
#                                                                         correlation_id top level)
#
# eddy's median of RUNS (default 5) against jq's median of JQ_RUNS (default
# 1: jq on a million events takes long), printing the wall seconds and CPU
# seconds (user+sys, which a busy machine inflates less than wall time) of
# both, the load average before and after, and the ratios jq/eddy of wall time
# (the goal is >= 20) and of CPU time.
# eddy's flow count is checked against jq's, so a fast wrong answer cannot
# win. Then the Go benchmarks report allocations per event and the bytes a
# Correlator retains per open event (the goal is <= 250; payloads are not
# retained at all).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
RUNS=${RUNS:-5}
JQ_RUNS=${JQ_RUNS:-1}
command -v jq >/dev/null || { echo "bench: jq is needed (apt-get install jq)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/eddy" ./cmd/eddy
go run ./bench/gencapture -n "$N" -o "$work/capture.jsonl" -flat "$work/flat.jsonl"
echo "capture: $N events, $(du -m "$work/capture.jsonl" | cut -f1) MB (payloads alone: $(du -m "$work/flat.jsonl" | cut -f1) MB)"

secs() { # run a command, print its wall seconds and its CPU seconds; its stdout goes to $work/out
	local t0 t1
	t0=$(date +%s.%N)
	/usr/bin/time -f %U+%S -o "$work/cpu" "$@" >"$work/out"
	t1=$(date +%s.%N)
	echo "$(echo "$t1 - $t0" | bc -l) $(bc -l <"$work/cpu")"
}
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
: >"$work/eddy.times"
for _ in $(seq "$RUNS"); do
	secs "$work/eddy" trace flows "file:$work/capture.jsonl" --until end -o json >>"$work/eddy.times"
done
eddy=$(cut -d' ' -f1 "$work/eddy.times" | median)
eddy_cpu=$(cut -d' ' -f2 "$work/eddy.times" | median)
eddy_flows=$(jq .flows.total "$work/out")
printf 'eddy trace flows       %8.2f s  (median of %d; runs %s)  cpu %.2f s  flows=%s\n' "$eddy" "$RUNS" "$(cut -d' ' -f1 "$work/eddy.times" | xargs printf '%.2f ' | sed 's/ $//')" "$eddy_cpu" "$eddy_flows"

jq_median() { # jq program, file: median wall seconds and CPU seconds; flows in $work/jqflows
	: >"$work/jq.times"
	for _ in $(seq "$JQ_RUNS"); do
		secs jq -s "$1" "$2" >>"$work/jq.times"
	done
	cp "$work/out" "$work/jqflows"
	echo "$(cut -d' ' -f1 "$work/jq.times" | median) $(cut -d' ' -f2 "$work/jq.times" | median)"
}
read -r jq_cap jq_cap_cpu < <(jq_median 'group_by(.value|fromjson|.correlation_id)|length' "$work/capture.jsonl")
jq_cap_flows=$(cat "$work/jqflows")
printf 'jq over the capture    %8.2f s  cpu %.2f s  flows=%s  ratio jq/eddy %.1fx (cpu %.1fx)\n' "$jq_cap" "$jq_cap_cpu" "$jq_cap_flows" \
	"$(echo "$jq_cap / $eddy" | bc -l)" "$(echo "$jq_cap_cpu / $eddy_cpu" | bc -l)"

read -r jq_flat jq_flat_cpu < <(jq_median 'group_by(.correlation_id)|length' "$work/flat.jsonl")
jq_flat_flows=$(cat "$work/jqflows")
printf 'jq over the payloads   %8.2f s  cpu %.2f s  flows=%s  ratio jq/eddy %.1fx (cpu %.1fx)\n' "$jq_flat" "$jq_flat_cpu" "$jq_flat_flows" \
	"$(echo "$jq_flat / $eddy" | bc -l)" "$(echo "$jq_flat_cpu / $eddy_cpu" | bc -l)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$eddy_flows" != "$jq_cap_flows" ] || [ "$eddy_flows" != "$jq_flat_flows" ]; then
	echo "bench: flow counts disagree: eddy $eddy_flows, jq $jq_cap_flows / $jq_flat_flows" >&2
	exit 1
fi

go test ./trace -run '^$' -bench 'Correlate|ReadCapture' -benchtime 1000000x | grep -E '^Benchmark'
retained=$(go test ./trace -run '^$' -bench 'Retained' -benchtime 1x | grep -E '^Benchmark')
echo "$retained"

# One line per figure for bench/run: BENCH, benchmark, eddy, anchor tool, anchor, unit, ratio.
printf 'BENCH\t%s\t%.2f\t%s\t%.2f\t%s\t%.1fx\n' "trace flows ($N events)" "$eddy" "jq -s group_by over the capture" "$jq_cap" "s" "$(echo "$jq_cap / $eddy" | bc -l)"
printf 'BENCH\t%s\t%.2f\t%s\t%.2f\t%s\t%.1fx\n' "trace flows ($N events)" "$eddy" "jq -s group_by over the payloads" "$jq_flat" "s" "$(echo "$jq_flat / $eddy" | bc -l)"
retained_b=$(echo "$retained" | awk '{for (i = 1; i < NF; i++) if ($(i+1) == "retained-B/event") print $i}')
[ -z "$retained_b" ] || printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%.2fx\n' "trace memory retained per open event" "$retained_b" "the goal" "250" "B" "$(echo "250 / $retained_b" | bc -l)"
