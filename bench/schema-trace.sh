#!/usr/bin/env bash
# bench/schema-trace.sh — eddy trace flows over Avro events against the same events
# as plain JSON: what decoding through a Schema Registry costs trace.
#
# On the real Kafka and Apicurio Registry (scripts/brokers.sh; the ones in
# EDDY_TEST_KAFKA / EDDY_TEST_SCHEMA_REGISTRY when set), bench/schemaproduce
# writes N (default 1,000,000) shop events, five per flow (event_id, type,
# occurred_at as a timestamp-millis, correlation_id, causation_id as a union,
# and six more fields), twice: to one topic as Avro in the Confluent wire
# format, to another as JSON with the same values. Then, interleaved A B A B …
# after WARMUP (1) pair(s), RUNS (default 5) pairs (bench/lib.sh):
#
#   A2  eddy trace flows kafka:AVRO --from beginning --until end -o json --schema-registry URL
#       vs eddy trace flows kafka:JSON --from beginning --until end -o json
#
# The ratio is JSON's time / Avro's, pair by pair; the goal (issue 17: Avro
# within 1.5x of JSON's time) is a ratio >= 0.667. Each run is timed by
# /usr/bin/time too, for its CPU seconds and its maximum resident set: the
# Avro run must not keep every event's decoded JSON (a second figure, the max
# RSS of each, without a goal). Both must find the same N/5 flows, so a fast
# wrong answer cannot win. Each figure prints the load average and CPU steal
# before and after and is marked UNDER LOAD when the machine was busy besides
# the benchmark.
#
# A quick check of the method: N=20000 RUNS=2 bench/schema-trace.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-1000000}
RUNS=${RUNS:-5}
bench_need jq "apt-get install jq"

bench_start
registry_up
bench_build eddy schemaproduce lagsetup
base="bench-schema-trace-$(date +%s)-$$"
"$work/schemaproduce" -brokers "$B" -registry "$R" -topic "$base-avro" -n "$N" -format avro 2>&1 | sed 's/^/   /'
"$work/schemaproduce" -brokers "$B" -topic "$base-json" -n "$N" -format json 2>&1 | sed 's/^/   /'

# timed OUT CMD...: CMD with its stdout in $work/out; its user+system CPU
# seconds and maximum RSS (KiB) appended to $work/OUT.
timed() {
	local what=$1
	shift
	/usr/bin/time -f '%U %S %M' -o "$work/time" "$@" >"$work/out"
	echo "$(cat "$work/time")" >>"$work/$what"
}
# flows: the flow count of the report in $work/out, which must be N/5.
flows() {
	local got
	got=$(jq .flows.total "$work/out")
	[ "$got" -eq $((N / 5)) ] || { echo "bench: $1 found $got flows, want $((N / 5))" >&2; return 1; }
}
trace_avro() {
	timed avro.res "$work/eddy" trace flows "kafka:$base-avro" --brokers "$B" --from beginning --until end -o json --schema-registry "$R"
	flows Avro
}
trace_json() {
	timed json.res "$work/eddy" trace flows "kafka:$base-json" --brokers "$B" --from beginning --until end -o json
	flows JSON
}

name="trace flows over Avro"
[ "$N" = 1000000 ] || name="$name, $N events"
echo "bench: $N events, $((N / 5)) flows, as Avro and as JSON; $RUNS interleaved pairs after $WARMUP warm-up"
: >"$work/avro.res"
: >"$work/json.res"
fig_begin "$name vs JSON"
ab "$RUNS" trace_avro trace_json
fig_end
emit_ab "$name" "eddy trace flows over the same events as JSON" s "$N" "A2 >=0.667"

# CPU and memory of the counted runs (the warm-up's are the first lines).
tail -n "$RUNS" "$work/avro.res" >"$work/avro.c"
tail -n "$RUNS" "$work/json.res" >"$work/json.c"
cpu() { awk '{ print $1 + $2 }' "$1"; }
rss() { awk '{ printf "%.0f\n", $3 / 1024 }' "$1"; }
read -r ac_min ac_med ac_max < <(stats $(cpu "$work/avro.c"))
read -r jc_min jc_med jc_max < <(stats $(cpu "$work/json.c"))
read -r am_min am_med am_max < <(stats $(rss "$work/avro.c"))
read -r jm_min jm_med jm_max < <(stats $(rss "$work/json.c"))
printf '%-44s cpu Avro %.2f s (%.2f-%.2f), JSON %.2f s (%.2f-%.2f), ratio %.2fx\n' "$name" \
	"$ac_med" "$ac_min" "$ac_max" "$jc_med" "$jc_min" "$jc_max" "$(awk -v a="$ac_med" -v j="$jc_med" 'BEGIN { print j / a }')"
printf '%-44s max RSS Avro %s MiB (%s-%s), JSON %s MiB (%s-%s)\n' "$name" "$am_med" "$am_min" "$am_max" "$jm_med" "$jm_min" "$jm_max"
emit_one "$name, CPU seconds" "$ac_med" "the same over JSON" "$jc_med" "s cpu" \
	"$(awk -v a="$ac_med" -v j="$jc_med" 'BEGIN { printf "%.2fx", j / a }')" "$ac_min-$ac_max" "" "$RUNS"
emit_one "$name, max RSS" "$am_med" "the same over JSON" "$jm_med" "MiB" \
	"$(awk -v a="$am_med" -v j="$jm_med" 'BEGIN { printf "%.2fx", j / a }')" "$am_min-$am_max" "" "$RUNS"

kafka_delete "$base"
