#!/usr/bin/env bash
# bench/lag.sh — one `eddy lag -o json` over 1,000 partitions and 50 groups,
# on kfake and on the real Kafka, against kafka-consumer-groups --describe
# --all-groups (Kafka's own ConsumerGroupCommand, from the jars scripts/brokers.sh
# caches) on the same real cluster.
#
# The fixture (bench/lagsetup): 20 topics x 50 partitions, 20 records each, and
# 50 groups that each committed on 4 topics (200 partitions), every partition
# left at a different lag, so eddy reads the first unread record of thousands
# of partition/offset pairs. On the real Kafka, eddy and kafka-consumer-groups
# run interleaved, A B A B …, RUNS (default 5) pairs after WARMUP (1); on kfake
# eddy runs RUNS times against its 1 s goal. Each figure is min–max and median,
# with the load average and CPU steal before and after, marked UNDER LOAD above
# QUIET_LOAD (bench/lib.sh); the ratio kafka-consumer-groups/eddy is taken pair
# by pair (goal >= 10). Every eddy run's JSON is checked to hold the 50 groups,
# every kafka-consumer-groups run's output to name them.
# A quick check of the method: RUNS=2 bench/lag.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

RUNS=${RUNS:-5}
prefix="bench-lag-$(date +%s)-$$"
bench_on_exit() { kafka_delete "$prefix"; }
bench_start
# Brokers already running (EDDY_TEST_KAFKA set) are used and left alone.
kafka_up
: "${EDDY_TEST_KAFKA_LIBS:?scripts/brokers.sh did not export EDDY_TEST_KAFKA_LIBS}"
bench_build eddy lagsetup

# check_groups PREFIX: the last eddy output holds the 50 groups of the fixture.
check_groups() {
	local n
	n=$(grep -o "\"group\":\"$1-g[0-9]*\"" "$work/out" | sort -u | wc -l)
	[ "$n" -eq 50 ] || { echo "bench: eddy lag reported $n of the 50 groups" >&2; return 1; }
}
eddy_lag() { "$work/eddy" lag -o json --brokers "$LB" kafka: >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; return 1; }; check_groups "$prefix"; }
java_lag() {
	java -cp "$EDDY_TEST_KAFKA_LIBS/*" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
		--bootstrap-server "$EDDY_TEST_KAFKA" --describe --all-groups >"$work/jout" 2>"$work/err" || { cat "$work/err" >&2; return 1; }
	local n
	n=$(grep -o "^$prefix-g[0-9]* " "$work/jout" | sort -u | wc -l)
	[ "$n" -eq 50 ] || { echo "bench: kafka-consumer-groups described $n of the 50 groups" >&2; return 1; }
}
noop() { :; }

# kfake: the fixture lives in lagsetup's process, served until its stdin
# closes; it prints the address once the fixture is made (which a busy
# machine may take minutes over).
KFAKE_WAIT=600 kfake_start "$work/lagsetup" -kfake -prefix "$prefix"
LB=$B
fig_begin "lag, kfake"
ab "$RUNS" eddy_lag noop
fig_end
read -r k_min k_med k_max < <(stats "${AB_A[@]}")
kf_line=$(emit_one "lag -o json, 1,000 partitions, 50 groups, on kfake" "$(conv ms 0 "$k_med")" "the 1 s goal" 1000 ms \
	"$(awk -v b="$k_med" 'BEGIN{printf "%.1fx", 1e6/b}')" "$(conv ms 0 "$k_min")-$(conv ms 0 "$k_max")" "" "$RUNS")
kfake_stop

# The real broker (it may hold other groups, such as the tests'; both tools
# describe all of them).
"$work/lagsetup" -brokers "$EDDY_TEST_KAFKA" -prefix "$prefix" >/dev/null
LB=$EDDY_TEST_KAFKA
eddy_lag
groups=$(grep -o '"group":"[^"]*"' "$work/out" | sort -u | wc -l)
echo "bench: 1,000 partitions (20 topics x 50), 50 groups on 200 partitions each; $RUNS interleaved pairs; real broker holds $groups groups"
fig_begin "lag, real Kafka"
ab "$RUNS" eddy_lag java_lag
fig_end
emit_ab "lag -o json, 1,000 partitions, 50 groups" "kafka-consumer-groups --describe --all-groups" ms 0 ""
echo "$kf_line"
