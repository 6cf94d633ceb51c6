#!/usr/bin/env bash
# bench/schema-trace.sh — eddy trace flows over Avro events against the same events
# as plain JSON: what decoding through a Schema Registry costs trace.
#
# Brings up the real Kafka and Apicurio Registry (scripts/brokers.sh) and produces
# N (default 1,000,000) shop events, five per flow (event_id, type, occurred_at as
# a timestamp-millis, correlation_id, causation_id as a union, and six more
# fields), twice with bench/schemaproduce: to one topic as Avro in the Confluent
# wire format, to another as JSON with the same values. Then times, RUNS (default
# 5) times each, alternating:
#
#   eddy trace flows kafka:AVRO --from beginning --until end -o json --schema-registry URL
#   eddy trace flows kafka:JSON --from beginning --until end -o json
#
# and prints the median wall and CPU seconds of each with the load average
# beside them, and the ratio Avro/JSON (the goal is <= 1.5). Both must find the
# same N/5 flows, so a fast wrong answer cannot win.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
RUNS=${RUNS:-5}
command -v jq >/dev/null || { echo "bench: jq is needed (apt-get install jq)" >&2; exit 1; }

env_file=$(mktemp)
scripts/brokers.sh up >"$env_file"
. "$env_file"; rm -f "$env_file"
[ -n "${EDDY_TEST_SCHEMA_REGISTRY:-}" ] || { echo "bench: no schema registry (scripts/brokers.sh needs a Java 21+ for Apicurio)" >&2; exit 1; }
B=$EDDY_TEST_KAFKA
R=$EDDY_TEST_SCHEMA_REGISTRY

work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${EDDY_KEEP_BROKERS:-}" ] || scripts/brokers.sh down' EXIT
go build -o "$work/eddy" ./cmd/eddy
go build -o "$work/schemaproduce" ./bench/schemaproduce
base="bench-schema-trace-$(date +%s)-$$"
"$work/schemaproduce" -brokers "$B" -registry "$R" -topic "$base-avro" -n "$N" -format avro
"$work/schemaproduce" -brokers "$B" -topic "$base-json" -n "$N" -format json

load() { cut -d' ' -f1-3 /proc/loadavg; }
secs() { # run a command; print its wall seconds, CPU seconds and the load average; stdout to $work/out
	local t0 t1
	t0=$(date +%s.%N)
	/usr/bin/time -f %U+%S -o "$work/cpu" "$@" >"$work/out"
	t1=$(date +%s.%N)
	echo "$(echo "$t1 - $t0" | bc -l) $(bc -l <"$work/cpu") $(load)"
}
median() { sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
flows() { # the flow count of the report in $work/out, which must be N/5
	local got; got=$(jq .flows.total "$work/out")
	[ "$got" -eq $((N / 5)) ] || { echo "bench: $1 found $got flows, want $((N / 5))" >&2; exit 1; }
}

echo "bench: $N events, $((N / 5)) flows; median of $RUNS runs; load average before: $(load) ($(nproc) cores)" >&2
: >"$work/avro.times"; : >"$work/json.times"
for _ in $(seq "$RUNS"); do
	secs "$work/eddy" trace flows "kafka:$base-avro" --brokers "$B" --from beginning --until end -o json --schema-registry "$R" >>"$work/avro.times"
	flows "Avro"
	secs "$work/eddy" trace flows "kafka:$base-json" --brokers "$B" --from beginning --until end -o json >>"$work/json.times"
	flows "JSON"
done
avro=$(cut -d' ' -f1 "$work/avro.times" | median); avro_cpu=$(cut -d' ' -f2 "$work/avro.times" | median)
json=$(cut -d' ' -f1 "$work/json.times" | median); json_cpu=$(cut -d' ' -f2 "$work/json.times" | median)
printf 'trace flows, Avro via registry  %8.2f s  cpu %.2f s  (runs %s; load after each: %s)\n' "$avro" "$avro_cpu" \
	"$(cut -d' ' -f1 "$work/avro.times" | xargs printf '%.2f ' | sed 's/ $//')" "$(cut -d' ' -f3 "$work/avro.times" | xargs)"
printf 'trace flows, plain JSON         %8.2f s  cpu %.2f s  (runs %s; load after each: %s)\n' "$json" "$json_cpu" \
	"$(cut -d' ' -f1 "$work/json.times" | xargs printf '%.2f ' | sed 's/ $//')" "$(cut -d' ' -f3 "$work/json.times" | xargs)"
printf 'ratio Avro/JSON: wall %.2fx, cpu %.2fx (goal <= 1.5)\n' "$(echo "$avro / $json" | bc -l)" "$(echo "$avro_cpu / $json_cpu" | bc -l)"

# For bench/run: the anchor is the same command over JSON; ratio anchor/eddy (above 1: Avro is free).
printf 'BENCH\t%s\t%.2f\t%s\t%.2f\t%s\t%.2fx\n' "trace flows over Avro ($N events)" "$avro" "eddy trace flows over the same events as JSON" "$json" "s" "$(echo "$json / $avro" | bc -l)"
