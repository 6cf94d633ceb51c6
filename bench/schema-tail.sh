#!/usr/bin/env bash
# bench/schema-tail.sh — eddy tail decoding Avro through a Schema Registry, against
# kcat printing the same records undecoded and Confluent's Python client decoding them.
#
# Brings up the real Kafka and Apicurio Registry (scripts/brokers.sh), produces N
# (default 1,000,000) Avro records of 11 fields (strings, longs, a union, a
# timestamp-millis, a decimal; ~80 B) in the Confluent wire format to a fresh topic
# (bench/schemaproduce, the schema registered in the registry), then times, RUNS
# (default 5) times each:
#
#   eddy tail kafka:T --from beginning --until end -o jsonl --schema-registry URL
#   kcat -C -J -e -o beginning -t T             (the bytes, undecoded; as users run
#                                                it, and tuned for throughput)
#   bench/py/avro_consume.py                    (confluent-kafka's Consumer with
#                                                AvroDeserializer, JSON lines; PY_RUNS
#                                                times, default 1: it is slow)
#
# and prints each median msg/s with the load average beside it, and the ratios
# (eddy/kcat: the goal is >= 1.0; eddy/python: >= 5). Every run's lines are counted,
# and eddy's must each carry value_decoded, so a fast wrong answer cannot win.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
RUNS=${RUNS:-5}
PY_RUNS=${PY_RUNS:-1}

command -v kcat >/dev/null || { echo "bench: kcat is needed (apt-get install kcat)" >&2; exit 1; }
env_file=$(mktemp)
scripts/brokers.sh up >"$env_file"
. "$env_file"; rm -f "$env_file"
[ -n "${EDDY_TEST_SCHEMA_REGISTRY:-}" ] || { echo "bench: no schema registry (scripts/brokers.sh needs a Java 21+ for Apicurio)" >&2; exit 1; }
B=$EDDY_TEST_KAFKA
R=$EDDY_TEST_SCHEMA_REGISTRY
py=$(scripts/interop/venv.sh)

work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${EDDY_KEEP_BROKERS:-}" ] || scripts/brokers.sh down' EXIT
go build -o "$work/eddy" ./cmd/eddy
go build -o "$work/schemaproduce" ./bench/schemaproduce
topic="bench-schema-tail-$(date +%s)-$$"
"$work/schemaproduce" -brokers "$B" -registry "$R" -topic "$topic" -n "$N" -format avro

load() { cut -d' ' -f1-3 /proc/loadavg; }

# time_runs NAME RUNS CMD...: run CMD with its stdout counted; print the median
# microseconds and the load average after the last run.
time_runs() {
	local name=$1 runs=$2; shift 2
	local times=()
	for _ in $(seq 1 "$runs"); do
		local t0 t1 lines
		t0=$(date +%s%N)
		lines=$("$@" | wc -l)
		t1=$(date +%s%N)
		if [ "$lines" -ne "$N" ]; then
			echo "bench: $name printed $lines lines, want $N" >&2; exit 1
		fi
		times+=("$(( (t1 - t0) / 1000 ))")
	done
	echo "$(printf '%s\n' "${times[@]}" | sort -n | awk -v r="$runs" '{a[NR]=$1} END{print a[int((r+1)/2)]}') $(load)"
}

rate() { awk -v n="$N" -v us="$1" 'BEGIN{printf "%.0f", n / (us / 1e6)}'; }

echo "bench: $N Avro records ($(kcat -b "$B" -C -t "$topic" -o beginning -c 1 -e -q -f '%S') B each), median of $RUNS runs (python: $PY_RUNS); load average before: $(load) ($(nproc) cores)" >&2
KCAT_TUNED=(-X fetch.max.bytes=52428800 -X max.partition.fetch.bytes=10485760 -X queued.min.messages=1000000 -X fetch.wait.max.ms=100)
kcat_json=$(time_runs "kcat -J" "$RUNS" kcat -C -b "$B" -t "$topic" -o beginning -e -q -J)
kcat_json_t=$(time_runs "kcat -J tuned" "$RUNS" kcat -C -b "$B" -t "$topic" -o beginning -e -q -J "${KCAT_TUNED[@]}")
python=$(time_runs "python AvroDeserializer" "$PY_RUNS" "$py" bench/py/avro_consume.py "$B" "$R" "$topic")
# eddy must decode every record: checked once, outside the timed runs.
decoded=$("$work/eddy" tail "kafka:$topic" --brokers "$B" --from beginning --until end -o jsonl --schema-registry "$R" | grep -c '"value_decoded":{' || true)
[ "$decoded" -eq "$N" ] || { echo "bench: eddy decoded $decoded of $N records" >&2; exit 1; }
eddy=$(time_runs "eddy jsonl" "$RUNS" "$work/eddy" tail "kafka:$topic" --brokers "$B" --from beginning --until end -o jsonl --schema-registry "$R")

us() { echo "${1%% *}"; }
row() { printf '%-44s %12s msg/s   load %s\n' "$1" "$(rate "$(us "$2")")" "${2#* }"; }
ratio() { awk -v a="$(us "$1")" -v b="$(us "$2")" 'BEGIN{printf "%.2fx", b/a}'; }
row "eddy tail -o jsonl --schema-registry" "$eddy"
row "kcat -J (undecoded)" "$kcat_json"
row "kcat -J (undecoded), tuned" "$kcat_json_t"
row "python confluent-kafka AvroDeserializer" "$python"
printf 'ratio eddy/kcat -J %s, eddy/kcat -J tuned %s, eddy/python %s\n' "$(ratio "$eddy" "$kcat_json")" "$(ratio "$eddy" "$kcat_json_t")" "$(ratio "$eddy" "$python")"

# One line per figure for bench/run: BENCH, benchmark, eddy, anchor tool, anchor, unit, ratio.
bench() { printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(rate "$(us "$2")")" "$4" "$(rate "$(us "$3")")" "msg/s" "$(ratio "$2" "$3")"; }
bench "tail -o jsonl, Avro decoded ($N x 11 fields)" "$eddy" "$kcat_json" "kcat -J (undecoded)"
bench "tail -o jsonl, Avro decoded ($N x 11 fields)" "$eddy" "$kcat_json_t" "kcat -J (undecoded), tuned"
bench "tail -o jsonl, Avro decoded ($N x 11 fields)" "$eddy" "$python" "confluent-kafka AvroDeserializer (Python)"
