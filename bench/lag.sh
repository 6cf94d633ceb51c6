#!/usr/bin/env bash
# bench/lag.sh — one `eddy lag -o json` over 1,000 partitions and 50 groups,
# on kfake and on the real Kafka, against kafka-consumer-groups --describe
# --all-groups (Kafka's own ConsumerGroupCommand, from the jars scripts/brokers.sh
# caches) on the same real cluster.
#
# The fixture (bench/lagsetup): 20 topics x 50 partitions, 20 records each, and
# 50 groups that each committed on 4 topics (200 partitions), every partition
# left at a different lag, so eddy reads the first unread record of thousands
# of partition/offset pairs. Each tool runs RUNS (default 5) times; the median
# wall time is printed, and the ratio kafka-consumer-groups/eddy (goal >= 10).
# Every eddy run's JSON is checked to hold the 50 groups.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-5}
env_file=$(mktemp)
scripts/brokers.sh up >"$env_file"
. "$env_file"; rm -f "$env_file"
work=$(mktemp -d)
prefix="bench-lag-$(date +%s)-$$"
cleanup() {
	[ -x "$work/lagsetup" ] && "$work/lagsetup" -brokers "$EDDY_TEST_KAFKA" -prefix "$prefix" -cleanup 2>/dev/null || true
	rm -rf "$work"
	[ -n "${EDDY_KEEP_BROKERS:-}" ] || scripts/brokers.sh down
}
trap cleanup EXIT
: "${EDDY_TEST_KAFKA_LIBS:?scripts/brokers.sh did not export EDDY_TEST_KAFKA_LIBS}"
go build -o "$work/eddy" ./cmd/eddy
go build -o "$work/lagsetup" ./bench/lagsetup

# median_ms CMD...: run CMD RUNS times, print the median wall time in ms.
median_ms() {
	local times=()
	for _ in $(seq 1 "$RUNS"); do
		local t0 t1
		t0=$(date +%s%N)
		"$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
		t1=$(date +%s%N)
		times+=("$(( (t1 - t0) / 1000000 ))")
	done
	printf '%s\n' "${times[@]}" | sort -n | awk -v r="$RUNS" '{a[NR]=$1} END{print a[int((r+1)/2)]}'
}

# check_groups PREFIX: the last eddy output holds the 50 groups of the fixture.
check_groups() {
	local n
	n=$(grep -o "\"group\":\"$1-g[0-9]*\"" "$work/out" | sort -u | wc -l)
	[ "$n" -eq 50 ] || { echo "bench: eddy lag reported $n of the 50 groups" >&2; exit 1; }
}

# kfake: the fixture lives in lagsetup's process, served until its stdin closes.
mkfifo "$work/hold"
"$work/lagsetup" -kfake -prefix "$prefix" <"$work/hold" >"$work/kfake.addr" &
exec 3>"$work/hold"
while [ ! -s "$work/kfake.addr" ]; do sleep 0.1; done
KB=$(cat "$work/kfake.addr")
eddy_kfake=$(median_ms "$work/eddy" lag -o json --brokers "$KB" kafka:)
check_groups "$prefix"
exec 3>&-
wait

# The real broker (it may hold other groups, such as the tests'; both tools
# describe all of them).
"$work/lagsetup" -brokers "$EDDY_TEST_KAFKA" -prefix "$prefix" >/dev/null
eddy_real=$(median_ms "$work/eddy" lag -o json --brokers "$EDDY_TEST_KAFKA" kafka:)
check_groups "$prefix"
groups=$(grep -o '"group":"[^"]*"' "$work/out" | sort -u | wc -l)
java_real=$(median_ms java -cp "$EDDY_TEST_KAFKA_LIBS/*" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
	--bootstrap-server "$EDDY_TEST_KAFKA" --describe --all-groups)

echo "bench: 1,000 partitions (20 topics x 50), 50 groups on 200 partitions each; median of $RUNS runs; real broker holds $groups groups" >&2
printf '%-58s %10s\n' "benchmark" "ms"
printf '%-58s %10s\n' "eddy lag -o json, kfake" "$eddy_kfake"
printf '%-58s %10s\n' "eddy lag -o json, real Kafka 4.3" "$eddy_real"
printf '%-58s %10s\n' "kafka-consumer-groups --describe --all-groups, real Kafka" "$java_real"
awk -v a="$java_real" -v b="$eddy_real" 'BEGIN{printf "%-58s %9.1fx\n", "ratio kafka-consumer-groups / eddy (goal >= 10)", a/b}'

# One line per figure for bench/run: BENCH, benchmark, eddy, anchor tool, anchor, unit, ratio.
printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "lag -o json, 1,000 partitions, 50 groups" "$eddy_real" "kafka-consumer-groups --describe --all-groups" "$java_real" "ms" "$(awk -v a="$java_real" -v b="$eddy_real" 'BEGIN{printf "%.1fx", a/b}')"
printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "lag -o json, same, on kfake" "$eddy_kfake" "the 1 s goal" "1000" "ms" "$(awk -v b="$eddy_kfake" 'BEGIN{printf "%.1fx", 1000/b}')"
