#!/usr/bin/env bash
# bench/startup.sh — the short commands, where start-up is most of the time:
# a change that slows start-up (an init-time cost, a new dependency, a slower
# connect) shows here (issue 18: "keep what is already good").
#
# On the real Kafka (EDDY_TEST_KAFKA, else the one scripts/brokers.sh starts),
# a fresh topic of 100 records; interleaved, A B A B …, WARMUP (default 2)
# pairs then RUNS (default 20) pairs:
#
#   S  eddy tail kafka:T --from -1 -n 1 -o raw
#      vs kcat -C -b B -t T -o -1 -c 1 -q -f '%s\n'   (the last record, as
#      `tail -n 1` prints the last line; both checked to print it)
#   S  eddy ls kafka:  vs  kcat -L   (every topic of the broker: eddy also
#      reads each partition's end offsets, kcat only the metadata)
#
# Each figure is min–max and median, with the load average and CPU steal
# before and after, marked UNDER LOAD above QUIET_LOAD (bench/lib.sh); the ratio
# is kcat's time / eddy's per pair (goal >= 1.0).
set -euo pipefail
cd "$(dirname "$0")/.."
WARMUP=${WARMUP:-2}
. bench/lib.sh

RUNS=${RUNS:-20}
bench_need kcat "apt-get install kcat"
topic=
bench_on_exit() { [ -z "$topic" ] || kafka_delete "$topic"; }
bench_start
kafka_up
bench_build eddy produce lagsetup
topic="bench-startup-$(date +%s)-$$"
"$work/produce" -brokers "$B" -topic "$topic" -n 100 2>/dev/null
last=$(kcat -C -b "$B" -t "$topic" -o -1 -c 1 -q -f '%s\n')
case $last in *e-000000099*) ;; *) echo "bench: kcat -o -1 printed $last, not the 100th record" >&2; exit 1 ;; esac

eddy_tail1() { [ "$("$work/eddy" tail "kafka:$topic" --brokers "$B" --from -1 -n 1 -o raw)" = "$last" ] || { echo "bench: eddy tail --from -1 -n 1 printed another record" >&2; return 1; }; }
kcat_tail1() { [ "$(kcat -C -b "$B" -t "$topic" -o -1 -c 1 -q -f '%s\n')" = "$last" ] || { echo "bench: kcat -o -1 -c 1 printed another record" >&2; return 1; }; }
eddy_ls() { "$work/eddy" ls kafka: --brokers "$B" >"$work/ls" && grep -q -- "$topic" "$work/ls" || { echo "bench: eddy ls did not list $topic" >&2; return 1; }; }
kcat_ls() { kcat -L -b "$B" >"$work/kls" && grep -q -- "$topic" "$work/kls" || { echo "bench: kcat -L did not list $topic" >&2; return 1; }; }

echo "bench: start-up on $B, $RUNS interleaved pairs after $WARMUP warm-up"
fig_begin "tail -n 1"
ab "$RUNS" eddy_tail1 kcat_tail1
fig_end
emit_ab "tail --from -1 -n 1, real Kafka" "kcat -o -1 -c 1" ms 0 "S >=1.0"
fig_begin "ls"
ab "$RUNS" eddy_ls kcat_ls
fig_end
emit_ab "ls kafka: ($(grep -c . "$work/ls") lines), real Kafka" "kcat -L" ms 0 "S >=1.0"
