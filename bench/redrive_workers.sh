#!/usr/bin/env bash
# bench/redrive_workers.sh — eddy dlq redrive of one Kafka DLQ by two workers
# of one job (two processes, --worker a and b) against one worker alone, on
# the same broker and the same data.
#
# Produces N (default 1,000,000) records of ~200 B to a fresh dead-letter topic
# ORIGIN.DLT of PARTITIONS (default 6) partitions on the real Kafka broker
# (EDDY_TEST_KAFKA when set, else the one scripts/brokers.sh starts), then
# times, RUNS (default 3) times each, interleaved (bench/lib.sh's ab):
#   two workers   eddy dlq redrive kafka:ORIGIN.DLT --job J --worker a &
#                 eddy dlq redrive kafka:ORIGIN.DLT --job J --worker b; wait
#   one worker    eddy dlq redrive kafka:ORIGIN.DLT --job J
# each pair on a new job (else a run would pass over what the earlier ones
# removed), and prints the ratio one worker's time / two workers' time per
# pair (> 1: two workers faster), with the load average and CPU steal before
# and after, marked UNDER LOAD above QUIET_LOAD (bench/lib.sh).
# Both are counted (the workers' JSON reports add up to N), so a fast wrong
# answer cannot win. On 2 cores the broker shares them with the workers: the
# speed-up is bounded by what the broker leaves.
# A quick check of the method: N=20000 RUNS=2 bench/redrive_workers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WARMUP=${WARMUP:-0}
. bench/lib.sh

N=${N:-1000000}
RUNS=${RUNS:-3}
SIZE=${SIZE:-200}
PARTITIONS=${PARTITIONS:-6}

base=
bench_on_exit() { [ -z "$base" ] || kafka_delete "$base" "eddy-redrive-$base"; }
bench_start
kafka_up
bench_build eddy produce lagsetup
kafka_dlt bench-workers "$N" "$SIZE" "$PARTITIONS"

redrove() { sed -n 's/.*"redriven":\([0-9]*\).*/\1/p' "$1"; }
jobs_n=0
two_workers() {
	jobs_n=$((jobs_n + 1))
	local j="$base-$jobs_n" a b
	"$work/eddy" dlq redrive kafka:"$dlt" --brokers "$B" --job "$j" --worker a --ledger "$work/$j/ledger.db" -o json >"$work/$j.a" &
	a=$!
	"$work/eddy" dlq redrive kafka:"$dlt" --brokers "$B" --job "$j" --worker b --ledger "$work/$j/ledger.db" -o json >"$work/$j.b" &
	b=$!
	wait "$a" && wait "$b" || return 1
	local ma mb
	ma=$(redrove "$work/$j.a") mb=$(redrove "$work/$j.b")
	[ $((ma + mb)) -eq "$N" ] || { echo "bench: the two workers redrove $ma + $mb records, want $N" >&2; return 1; }
	echo "bench: job $j: worker a $ma, worker b $mb" >&2
}
one_worker() {
	jobs_n=$((jobs_n + 1))
	local j="$base-$jobs_n" m
	"$work/eddy" dlq redrive kafka:"$dlt" --brokers "$B" --job "$j" --worker a --ledger "$work/$j/ledger.db" -o json >"$work/$j.a"
	m=$(redrove "$work/$j.a")
	[ "$m" = "$N" ] || { echo "bench: one worker redrove ${m:-?} records, want $N" >&2; return 1; }
}

echo "bench: $N records of ~$SIZE B, $PARTITIONS partitions, $RUNS interleaved pairs, broker $B, $(nproc) cores" >&2
fig_begin "dlq redrive, Kafka, two workers"
ab "$RUNS" two_workers one_worker
fig_end
emit_ab "dlq redrive Kafka, 2 workers vs 1 ($N x ~${SIZE} B, $PARTITIONS partitions)" "one worker" msg/s "$N" ""
