#!/usr/bin/env bash
# bench/redrive_kafka.sh — eddy dlq redrive (Kafka DLQ → origin, exactly once)
# against a kcat pipe on the same broker and the same data.
#
# Produces N (default 1,000,000) records of ~200 B to a fresh dead-letter topic
# ORIGIN.DLT on the real Kafka broker (EDDY_TEST_KAFKA when set, else the one
# scripts/brokers.sh starts), then times, RUNS (default 3) times each:
#   eddy dlq redrive kafka:ORIGIN.DLT     transactional: each batch's records and
#                                         the job group's offsets in one
#                                         transaction, read_committed, acks=all;
#                                         a new job (group) and job log every
#                                         run (else a run would pass over what
#                                         the earlier ones removed)
#   kcat -C -e -f '%k\t%s\n' | kcat -P -K '\t'
#                                         a copy with no safety at all (no
#                                         transaction, no offsets, librdkafka's
#                                         default acks) into a fresh topic;
#                                         keys and values kept
# and prints the median msgs/s of each and the ratio eddy/kcat (>1: eddy faster).
# Both copies are counted (eddy's JSON report, a read of kcat's target), so a
# fast wrong answer cannot win. Topics and groups are deleted at the end.
#
# The letters carry no dead-letter headers: their origin is the DLT's name
# (ORIGIN.DLT → ORIGIN), decided per record exactly as from Spring's headers.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
RUNS=${RUNS:-3}
SIZE=${SIZE:-200}
PARTITIONS=${PARTITIONS:-1}

command -v kcat >/dev/null || { echo "bench: kcat is needed (apt-get install kcat)" >&2; exit 1; }
work=$(mktemp -d)
started= base=
cleanup() {
	if [ -n "$base" ] && [ -x "$work/lagsetup" ]; then
		"$work/lagsetup" -brokers "$B" -cleanup -prefix "$base" >/dev/null 2>&1 || true
		"$work/lagsetup" -brokers "$B" -cleanup -prefix "eddy-redrive-$base" >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
	if [ -n "$started" ] && [ -z "${EDDY_KEEP_BROKERS:-}" ]; then scripts/brokers.sh down; fi
}
trap cleanup EXIT
if [ -z "${EDDY_TEST_KAFKA:-}" ]; then
	scripts/brokers.sh up >"$work/env"
	. "$work/env"
	started=1
fi
B=$EDDY_TEST_KAFKA

go build -o "$work/eddy" ./cmd/eddy
go build -o "$work/produce" ./bench/produce
go build -o "$work/lagsetup" ./bench/lagsetup
base="bench-redrive-$(date +%s)-$$"
dlt="$base.DLT"
"$work/produce" -brokers "$B" -topic "$dlt" -n "$N" -size "$SIZE" -partitions "$PARTITIONS"
"$work/produce" -brokers "$B" -topic "$base" -n 0 -partitions "$PARTITIONS" 2>/dev/null # the origin

us() { echo $(( $(date +%s%N) / 1000 )); }
median() { sort -n | awk -v r="$RUNS" '{a[NR]=$1} END{print a[int((r+1)/2)]}'; }
rate() { awk -v n="$N" -v us="$1" 'BEGIN{printf "%.0f", n / (us / 1e6)}'; }

echo "bench: $N records of ~$SIZE B, $PARTITIONS partition(s), median of $RUNS runs, broker $B" >&2
eddy_t=() kcat_t=()
for run in $(seq 1 "$RUNS"); do
	t0=$(us)
	out=$("$work/eddy" dlq redrive kafka:"$dlt" --brokers "$B" --job "$base-$run" --ledger "$work/run-$run/ledger.db" -o json)
	t1=$(us)
	moved=$(printf '%s' "$out" | sed -n 's/.*"redriven":\([0-9]*\).*/\1/p')
	[ "$moved" = "$N" ] || { echo "bench: eddy redrove ${moved:-?} records, want $N: $out" >&2; exit 1; }
	eddy_t+=("$((t1 - t0))")

	target="$base-kcat-$run"
	"$work/produce" -brokers "$B" -topic "$target" -n 0 -partitions "$PARTITIONS" 2>/dev/null
	t0=$(us)
	kcat -C -b "$B" -t "$dlt" -o beginning -e -q -f '%k\t%s\n' | kcat -P -b "$B" -t "$target" -K $'\t'
	t1=$(us)
	got=$(kcat -C -b "$B" -t "$target" -o beginning -e -q -f 'x\n' | wc -l)
	[ "$got" -eq "$N" ] || { echo "bench: kcat copied $got records, want $N" >&2; exit 1; }
	kcat_t+=("$((t1 - t0))")
	echo "bench: run $run: eddy $(rate "${eddy_t[-1]}") msg/s, kcat pipe $(rate "${kcat_t[-1]}") msg/s" >&2
done

e=$(printf '%s\n' "${eddy_t[@]}" | median)
k=$(printf '%s\n' "${kcat_t[@]}" | median)
printf '%-48s %12s\n' "benchmark" "msg/s"
printf '%-48s %12s\n' "eddy dlq redrive (EOS, DLQ -> origin)" "$(rate "$e")"
printf '%-48s %12s\n' "kcat -C -e | kcat -P (no safety)" "$(rate "$k")"
printf '%-48s %12s\n' "ratio eddy/kcat (goal >= 0.5, stretch >= 1.0)" "$(awk -v a="$k" -v b="$e" 'BEGIN{printf "%.2fx", a/b}')"

# One line per figure for bench/run: BENCH, benchmark, eddy, anchor tool, anchor, unit, ratio.
printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "dlq redrive Kafka, exactly once ($N x ~${SIZE} B)" "$(rate "$e")" "kcat -C | kcat -P (no safety)" "$(rate "$k")" "msg/s" "$(awk -v a="$k" -v b="$e" 'BEGIN{printf "%.2fx", a/b}')"
