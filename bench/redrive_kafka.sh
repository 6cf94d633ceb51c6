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
# interleaved, A B A B … (no warm-up pair by default: each run moves N records;
# WARMUP=1 adds one), and prints eddy's and kcat's msgs/s as min–max and median,
# and the ratio kcat time / eddy time per pair (>1: eddy faster; goal P4 >= 1.0),
# with the load average and CPU steal before and after, marked UNDER LOAD above
# QUIET_LOAD (bench/lib.sh).
# Both copies are counted (eddy's JSON report, a read of kcat's target), so a
# fast wrong answer cannot win. Topics and groups are deleted at the end.
# A quick check of the method: N=20000 RUNS=2 bench/redrive_kafka.sh
#
# The letters carry no dead-letter headers: their origin is the DLT's name
# (ORIGIN.DLT → ORIGIN), decided per record exactly as from Spring's headers.
set -euo pipefail
cd "$(dirname "$0")/.."
WARMUP=${WARMUP:-0}
. bench/lib.sh

N=${N:-1000000}
RUNS=${RUNS:-3}
SIZE=${SIZE:-200}
PARTITIONS=${PARTITIONS:-1}

bench_need kcat "apt-get install kcat"
base=
bench_on_exit() { [ -z "$base" ] || kafka_delete "$base" "eddy-redrive-$base"; }
bench_start
kafka_up
bench_build eddy produce lagsetup
kafka_dlt bench-redrive "$N" "$SIZE" "$PARTITIONS"

eddy_n=0 kcat_n=0
eddy_redrive() {
	eddy_n=$((eddy_n + 1))
	local out moved
	out=$("$work/eddy" dlq redrive kafka:"$dlt" --brokers "$B" --job "$base-$eddy_n" --ledger "$work/run-$eddy_n/ledger.db" -o json)
	moved=$(printf '%s' "$out" | sed -n 's/.*"redriven":\([0-9]*\).*/\1/p')
	[ "$moved" = "$N" ] || { echo "bench: eddy redrove ${moved:-?} records, want $N: $out" >&2; return 1; }
}
# The origin holds N more records after each run (read back outside the clock).
eddy_after() {
	local got
	got=$(kcat -C -b "$B" -t "$base" -o beginning -e -q -f 'x\n' | wc -l)
	[ "$got" -eq $((eddy_n * N)) ] || { echo "bench: the origin holds $got records after $eddy_n eddy runs of $N" >&2; return 1; }
}
# The kcat pipe's target is made, and its copy counted, outside the clock.
kcat_target() { "$work/produce" -brokers "$B" -topic "$base-kcat-$1" -n 0 -partitions "$PARTITIONS" 2>/dev/null; }
kcat_pipe() {
	kcat_n=$((kcat_n + 1))
	kcat -C -b "$B" -t "$dlt" -o beginning -e -q -f '%k\t%s\n' | kcat -P -b "$B" -t "$base-kcat-$kcat_n" -K $'\t'
}
kcat_after() {
	local got
	got=$(kcat -C -b "$B" -t "$base-kcat-$kcat_n" -o beginning -e -q -f 'x\n' | wc -l)
	[ "$got" -eq "$N" ] || { echo "bench: kcat copied $got records, want $N" >&2; return 1; }
	kcat_target $((kcat_n + 1))
}
kcat_target 1

echo "bench: $N records of ~$SIZE B, $PARTITIONS partition(s), $RUNS interleaved pairs, broker $B" >&2
fig_begin "dlq redrive, Kafka"
ab "$RUNS" eddy_redrive kcat_pipe eddy_after kcat_after
fig_end
emit_ab "dlq redrive Kafka, exactly once ($N x ~${SIZE} B)" "kcat -C -e | kcat -P (no safety)" msg/s "$N" "P4 >=1.0"
