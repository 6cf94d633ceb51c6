#!/usr/bin/env bash
# bench/send.sh — eddy send against kcat -P on the same machine, broker and
# data: N (default 1,000,000) lines of ~SIZE (200) B from one file, to a topic
# of one partition, on the real Kafka and on kfake (TARGETS, default "kafka
# kfake"), interleaved A B A B … after WARMUP (1) pair(s), RUNS (default 5)
# pairs (bench/lib.sh):
#
#   P1s  eddy send kafka:T --lines FILE
#        vs kcat -P -b B -t T -l FILE, with eddy's settings: acks=all,
#        idempotence, snappy, batches of 1 MB lingering 5 ms (librdkafka's
#        defaults but for acks, idempotence and compression, which eddy's
#        producer uses)
#
# Like for like, as both clients then run: acks from all in-sync replicas,
# the idempotent producer, up to 5 produce requests in flight (librdkafka's
# max.in.flight with idempotence; kgo's with idempotence on Kafka >= 1.0),
# snappy (kgo's default codec, set for kcat), a batch closed at 1,000,000 B
# or 5 ms (librdkafka also closes one at 10,000 messages, batch.num.messages:
# with ~200 B lines 1 MB comes first), each record stamped when produced.
# What differs: librdkafka queues up to 100,000 messages before the producer
# waits, kgo 50,000 records (eddy keeps kgo's, half the memory); eddy also
# checks the topic exists first, on a connection of its own.
#
# Besides the wall time, each run's CPU time (user + system of the client's
# process, from the shell's times) is printed per pair: on a loaded machine
# it is the steadier figure of the two (a wall-time ratio there is noise).
#
# Each run must succeed (exit 0), and once the pairs are done the topic holds
# exactly (WARMUP + RUNS) x 2 x N records (read with eddy ls), so a fast
# wrong answer cannot win. Each figure prints the load average and CPU steal
# before and after and is marked UNDER LOAD when the machine was not quiet
# (bench/lib.sh). The ratio is kcat's time / eddy's per pair. Goal (issue
# 21): >= 1.0x.
#
# A quick check of the method: N=20000 RUNS=2 bench/send.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-1000000}
RUNS=${RUNS:-5}
SIZE=${SIZE:-200}
TARGETS=${TARGETS:-kafka kfake}

bench_need kcat "apt-get install kcat"
bench_start
bench_build eddy produce lagsetup

# The lines: a sequence number and a JSON-ish body of ~SIZE bytes, no two alike.
awk -v n="$N" -v size="$SIZE" 'BEGIN {
	pad = sprintf("%*s", size - 40, ""); gsub(/ /, "x", pad)
	for (i = 1; i <= n; i++) printf "{\"seq\":%d,\"pad\":\"%s\"}\n", i, pad }' >"$work/lines"

KCAT_X=(-X acks=all -X enable.idempotence=true -X compression.codec=snappy -X linger.ms=5 -X batch.size=1000000)

# cpu_ms: the CPU time (user + system, ms) of this shell's children waited
# for so far, from the times builtin (no fork: a forked reader would count
# itself). Read around each run, it is the run's own CPU time, which a loaded
# machine changes far less than its wall time.
cpu_ms() {
	local u s
	times >"$work/times"
	{ read -r _; read -r u s; } <"$work/times"
	CPU_MS=$(($(ms_of "$u") + $(ms_of "$s")))
}
ms_of() { # 1m2.345s -> 62345
	local m=${1%%m*} x=${1#*m}
	x=${x%s}
	echo $(((m * 60 + 10#${x%.*}) * 1000 + 10#${x#*.}))
}
EDDY_CPU=() KCAT_CPU=()
eddy_send() {
	cpu_ms; local c0=$CPU_MS
	"$work/eddy" send "kafka:$topic" --lines "$work/lines" --brokers "$B" >/dev/null
	cpu_ms; EDDY_CPU+=($((CPU_MS - c0)))
}
kcat_send() {
	cpu_ms; local c0=$CPU_MS
	kcat -P -b "$B" -t "$topic" -l "${KCAT_X[@]}" "$work/lines"
	cpu_ms; KCAT_CPU+=($((CPU_MS - c0)))
}
sec() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }
# emit_cpu NAME: the CPU time per run of the last ab's pairs (warm-up left
# out), medians and ranges, and kcat's / eddy's per pair.
emit_cpu() {
	local e=("${EDDY_CPU[@]:WARMUP}") k=("${KCAT_CPU[@]:WARMUP}") r=() i
	for i in "${!e[@]}"; do r+=("$(awk -v k="${k[$i]}" -v e="${e[$i]}" 'BEGIN { printf "%.2f", k / e }')"); done
	read -r emin emed emax <<<"$(stats "${e[@]}")"
	read -r kmin kmed kmax <<<"$(stats "${k[@]}")"
	read -r rmin rmed rmax <<<"$(stats "${r[@]}")"
	# (ms; a median of an even count may end in .5)
	printf '%-44s eddy %.2f s (%.2f-%.2f)  kcat -P -l %.2f s (%.2f-%.2f)  ratio %.2fx (%s-%sx over %d pairs)  %s  [load %s]\n' \
		"$1, CPU time per run" "$(sec "$emed")" "$(sec "$emin")" "$(sec "$emax")" \
		"$(sec "$kmed")" "$(sec "$kmin")" "$(sec "$kmax")" \
		"$rmed" "$rmin" "$rmax" "${#e[@]}" "$FIG_MARK" "$(bench_loadavg)"
	EDDY_CPU=() KCAT_CPU=()
}

echo "bench: send, $N lines of ~$SIZE B to one partition, $RUNS interleaved pairs after $WARMUP warm-up; kcat $(kcat_version)"
for target in $TARGETS; do
	bench_target "$target"
	topic="bench-send-$target-$(date +%s)-$$"
	layout="1 part."
	[ "$N" = 1000000 ] && [ "$SIZE" = 200 ] || layout="$layout, $N x $SIZE B"
	echo
	echo "== $bname: $layout"
	# One record makes the topic (one partition); the count below allows for it.
	"$work/produce" -brokers "$B" -topic "$topic" -n 1 -size 10 -partitions 1 2>&1 | sed 's/^/   /'
	fig_begin "send, $bname, $layout"
	ab "$RUNS" eddy_send kcat_send
	fig_end
	emit_ab "send, $bname, $layout" "kcat -P -l" msg/s "$N" "P1s >=1.0"
	emit_cpu "send, $bname, $layout"
	want=$(((WARMUP + RUNS) * 2 * N + 1))
	got=$("$work/eddy" ls "kafka:$topic" --brokers "$B" -o json | python3 -c 'import json,sys; print(sum(t.get("messages", 0) for t in json.load(sys.stdin).get("topics", [])))' 2>/dev/null || echo "?")
	if [ "$got" != "$want" ]; then
		echo "bench: topic $topic holds $got records, want $want" >&2
		exit 1
	fi
	echo "   $topic holds $got records, as it should"
	bench_target_done "$target" "$topic"
done
