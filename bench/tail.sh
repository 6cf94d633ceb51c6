#!/usr/bin/env bash
# bench/tail.sh — eddy tail against kcat on the same machine and the same data.
#
# Produces N (default 1,000,000) records of ~200 B to a fresh topic on the real
# Kafka broker that scripts/brokers.sh runs, then times, RUNS (default 5) times each:
#   eddy tail kafka:T --from beginning --until end -o raw    vs  kcat -C ... -f '%s\n'
#   eddy tail kafka:T --from beginning --until end -o jsonl  vs  kcat -C ... -J
# and prints the median msgs/s of each and the ratio eddy/kcat (>1 means eddy is
# faster). Every run's output is counted, so a fast wrong answer cannot win.
#
# kcat runs twice: as users run it (librdkafka's defaults, which wait on small
# fetches), and tuned for throughput (KCAT_TUNED), so the ratio that matters —
# against kcat at its best — is printed too.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
RUNS=${RUNS:-5}
SIZE=${SIZE:-200}
PARTITIONS=${PARTITIONS:-1}

command -v kcat >/dev/null || { echo "bench: kcat is needed (apt-get install kcat)" >&2; exit 1; }
env_file=$(mktemp)
scripts/brokers.sh up >"$env_file"
. "$env_file"; rm -f "$env_file"
[ -n "${EDDY_KEEP_BROKERS:-}" ] || trap 'scripts/brokers.sh down' EXIT
B=$EDDY_TEST_KAFKA

work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${EDDY_KEEP_BROKERS:-}" ] || scripts/brokers.sh down' EXIT
go build -o "$work/eddy" ./cmd/eddy
go build -o "$work/produce" ./bench/produce
topic="bench-tail-$(date +%s)-$$"
"$work/produce" -brokers "$B" -topic "$topic" -n "$N" -size "$SIZE" -partitions "$PARTITIONS"

# time_runs NAME CMD...: run CMD RUNS times with stdout counted; print median seconds.
time_runs() {
	local name=$1; shift
	local times=()
	for _ in $(seq 1 "$RUNS"); do
		local t0 t1 lines
		t0=$(date +%s%N)
		lines=$("$@" | wc -l)
		t1=$(date +%s%N)
		if [ "$lines" -ne "$N" ]; then
			echo "bench: $name printed $lines lines, want $N" >&2; exit 1
		fi
		times+=("$(( (t1 - t0) / 1000 ))")
	done
	printf '%s\n' "${times[@]}" | sort -n | awk -v r="$RUNS" '{a[NR]=$1} END{print a[int((r+1)/2)]}'
}

rate() { awk -v n="$N" -v us="$1" 'BEGIN{printf "%.0f", n / (us / 1e6)}'; }

echo "bench: $N records of ~$SIZE B, $PARTITIONS partition(s), median of $RUNS runs" >&2
KCAT_TUNED=(-X fetch.max.bytes=52428800 -X max.partition.fetch.bytes=10485760 -X queued.min.messages=1000000 -X fetch.wait.max.ms=100)
eddy_raw=$(time_runs "eddy raw" "$work/eddy" tail "kafka:$topic" --brokers "$B" --from beginning --until end -o raw)
kcat_raw=$(time_runs "kcat raw" kcat -C -b "$B" -t "$topic" -o beginning -c "$N" -q -f '%s\n')
eddy_json=$(time_runs "eddy jsonl" "$work/eddy" tail "kafka:$topic" --brokers "$B" --from beginning --until end -o jsonl)
kcat_json=$(time_runs "kcat -J" kcat -C -b "$B" -t "$topic" -o beginning -c "$N" -q -J)
kcat_raw_t=$(time_runs "kcat raw tuned" kcat -C -b "$B" -t "$topic" -o beginning -c "$N" -q -f '%s\n' "${KCAT_TUNED[@]}")
kcat_json_t=$(time_runs "kcat -J tuned" kcat -C -b "$B" -t "$topic" -o beginning -c "$N" -q -J "${KCAT_TUNED[@]}")

row() { printf '%-34s %12s %12s %8s\n' "$1" "$(rate "$2")" "$(rate "$3")" "$(awk -v a="$3" -v b="$2" 'BEGIN{printf "%.2fx", a/b}')"; }

printf '%-34s %12s %12s %8s\n' "benchmark" "eddy msg/s" "kcat msg/s" "ratio"
row "tail -o raw vs kcat -f %s" "$eddy_raw" "$kcat_raw"
row "tail -o raw vs kcat -f %s, tuned" "$eddy_raw" "$kcat_raw_t"
row "tail -o jsonl vs kcat -J" "$eddy_json" "$kcat_json"
row "tail -o jsonl vs kcat -J, tuned" "$eddy_json" "$kcat_json_t"

# One line per figure for bench/run: BENCH, benchmark, eddy, anchor tool, anchor, unit, ratio.
bench() { printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(rate "$2")" "$4" "$(rate "$3")" "msg/s" "$(awk -v a="$3" -v b="$2" 'BEGIN{printf "%.2fx", a/b}')"; }
bench "tail -o raw ($N x ~${SIZE} B)" "$eddy_raw" "$kcat_raw" "kcat -f '%s\n'"
bench "tail -o raw ($N x ~${SIZE} B)" "$eddy_raw" "$kcat_raw_t" "kcat -f '%s\n', tuned"
bench "tail -o jsonl ($N x ~${SIZE} B)" "$eddy_json" "$kcat_json" "kcat -J"
bench "tail -o jsonl ($N x ~${SIZE} B)" "$eddy_json" "$kcat_json_t" "kcat -J, tuned"
