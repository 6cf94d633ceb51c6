#!/usr/bin/env bash
# bench/schema-tail.sh — eddy tail decoding Avro through a Schema Registry, against
# kcat printing the same records undecoded and Confluent's Python client decoding them.
#
# On the real Kafka and Apicurio Registry (scripts/brokers.sh; the ones in
# EDDY_TEST_KAFKA / EDDY_TEST_SCHEMA_REGISTRY when set), bench/schemaproduce
# writes N (default 1,000,000) Avro records of 11 fields (strings, longs, a
# union, a timestamp-millis, a decimal; ~80 B) in the Confluent wire format to a
# fresh topic, the schema registered in the registry. Then, interleaved A B A B
# … after WARMUP (1) pair(s) (bench/lib.sh):
#
#   A1  eddy tail kafka:T --from beginning --until end -o jsonl --schema-registry URL
#       vs kcat -C -b B -t T -o beginning -c N -q -J    (the bytes, undecoded),
#       RUNS (5) pairs; goal >= 1.0x (issue 17: decoding costs no more than
#       kcat's plain printing)
#       and vs kcat -J tuned for throughput (larger fetches; KCAT_TUNED=1, the
#       default; no goal: what kcat can do at best)
#   A1  eddy, as above, vs bench/py/avro_consume.py (confluent-kafka's Consumer
#       with AvroDeserializer, JSON lines), PY_RUNS (1) pairs after no warm-up
#       (python takes ~100 s a run); goal >= 5x
#
# Each figure prints the load average and CPU steal before and after and is
# marked UNDER LOAD when the machine was busy besides the benchmark
# (bench/lib.sh). Every run's lines are counted (N), and one eddy run, outside
# the clock, must carry value_decoded on every line, so a fast wrong answer
# cannot win.
#
# A quick check of the method: N=20000 RUNS=2 PY_RUNS=1 bench/schema-tail.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-1000000}
RUNS=${RUNS:-5}
PY_RUNS=${PY_RUNS:-1}
KCAT_TUNED=${KCAT_TUNED:-1}

bench_need kcat "apt-get install kcat"
bench_start
registry_up
py=$(scripts/interop/venv.sh)

bench_build eddy schemaproduce lagsetup
topic="bench-schema-tail-$(date +%s)-$$"
"$work/schemaproduce" -brokers "$B" -registry "$R" -topic "$topic" -n "$N" -format avro 2>&1 | sed 's/^/   /'
kcat_x=()

# The commands, each checked: N lines.
eddy_avro() {
	l=$("$work/eddy" tail "kafka:$topic" --brokers "$B" --from beginning --until end -o jsonl --schema-registry "$R" | wc -l)
	[ "$l" -eq "$N" ] || { echo "bench: eddy -o jsonl printed $l lines, want $N" >&2; return 1; }
}
kcat_json() {
	l=$(kcat -C -b "$B" -t "$topic" -o beginning -c "$N" -q -J "${kcat_x[@]}" | wc -l)
	[ "$l" -eq "$N" ] || { echo "bench: kcat -J printed $l lines, want $N" >&2; return 1; }
}
python_avro() {
	l=$("$py" bench/py/avro_consume.py "$B" "$R" "$topic" | wc -l)
	[ "$l" -eq "$N" ] || { echo "bench: python printed $l lines, want $N" >&2; return 1; }
}

# eddy must decode every record: checked once, outside the clock.
decoded=$("$work/eddy" tail "kafka:$topic" --brokers "$B" --from beginning --until end -o jsonl --schema-registry "$R" | grep -c '"value_decoded":{' || true)
[ "$decoded" -eq "$N" ] || { echo "bench: eddy decoded $decoded of $N records" >&2; exit 1; }

size=$(kcat -b "$B" -C -t "$topic" -o beginning -c 1 -e -q -f '%S')
name="tail -o jsonl, Avro decoded"
[ "$N" = 1000000 ] || name="$name, $N records"
echo "bench: $N Avro records of $size B (11 fields), $RUNS interleaved pairs after $WARMUP warm-up (python: $PY_RUNS pair(s), no warm-up); kcat $(kcat_version)"

fig_begin "$name vs kcat -J"
ab "$RUNS" eddy_avro kcat_json
fig_end
emit_ab "$name" "kcat -J (undecoded)" msg/s "$N" "A1 >=1.0"

if [ -n "$KCAT_TUNED" ]; then
	kcat_x=("${KCAT_TUNED_X[@]}")
	fig_begin "$name vs kcat -J tuned"
	ab "$RUNS" eddy_avro kcat_json
	fig_end
	emit_ab "$name" "kcat -J (undecoded), tuned" msg/s "$N" ""
	kcat_x=()
fi

fig_begin "$name vs python"
WARMUP=0 ab "$PY_RUNS" eddy_avro python_avro
fig_end
emit_ab "$name" "confluent-kafka AvroDeserializer (Python)" msg/s "$N" "A1 >=5.0"

# The real broker keeps its topics on disk: delete ours.
kafka_delete "$topic"
