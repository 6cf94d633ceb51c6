#!/usr/bin/env bash
# bench/serve.sh — eddy serve's live ingest against eddy trace flows on the
# same topic, and the scrape time of /metrics (issue 20, Performance).
#
# 1. Live ingest, end to end. N (default 1,000,000) events of five-step shop
#    flows (bench/gencapture: OrderPlaced -> PaymentAuthorized ->
#    StockReserved -> OrderShipped -> EmailSent, keyed by correlation id,
#    CloudEvents headers and a traceparent) are put once on one topic of P
#    (default 6) partitions with `eddy send kafka:T file:CAPTURE` (each event
#    with its own key and headers), on the real Kafka and, when TARGETS names
#    it, on kfake (bench/produce -serve-kfake; TARGETS default "kafka"). The
#    capture's five topics all land on the one topic (flows correlate by
#    correlation id as before; serve's by-topic histograms then have one
#    edge). Disk: ~650 MB of capture for N = 1,000,000 in a temporary
#    directory, and the records on the broker (the topic is deleted at the
#    end). Then,
#    interleaved A B A B … after WARMUP (1) pair(s), RUNS (default 5) pairs
#    (bench/lib.sh):
#
#      A  eddy serve kafka:T --from beginning --flow 'shop=…' --listen ADDR
#         (lag on, as by default: the lag of every group is sampled beside
#         ingest), timed from its start until its /metrics (polled with curl
#         every POLL, default 0.05 s) shows eddy_serve_events_total = N; its
#         peak RSS (VmHWM of /proc/PID/status) is read then, and it is stopped
#         with SIGTERM and must exit as documented (130: interrupted). Serve
#         brings that counter up to date once a second, so this time is
#         rounded up to a second's tick (an overstatement of up to 1 s: small
#         N is start-up and rounding); beside it, serve's steady rate between
#         its counter's updates (start-up and the last second left out).
#      B  eddy trace flows kafka:T --from beginning --until end -o json — the
#         same correlator path over the same records, the anchor; it must
#         find N/5 flows.
#
#    Figures in events/s (N / time; the ratio is trace's time / serve's per
#    pair: above 1, serve is faster). The goal (issue 20): serve >= 200,000
#    events/s, judged by the median and by the slowest run. Serve's peak RSS
#    per run, median and range.
#
# 2. Scrape time: serve's BenchmarkScrape (serve/bench_test.go) — one scrape
#    of /metrics in Prometheus's protobuf exposition with 1,000 partitions of
#    lag (10 groups of 100) and 50 edges of hop histograms, through the same
#    registries and handler eddy serve uses — SCRAPE_COUNT (5) times; the
#    goal: < 50 ms, judged by the median and the slowest. Its CPU time per
#    scrape is printed beside (on a loaded machine the steadier figure).
#
# Each figure prints the load average and CPU steal before and after and is
# marked UNDER LOAD when the machine was not quiet (bench/lib.sh).
# A quick check of the method: N=20000 RUNS=1 WARMUP=0 bench/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

N=${N:-1000000}
RUNS=${RUNS:-5}
P=${P:-6}
POLL=${POLL:-0.05}
TARGETS=${TARGETS:-kafka}
SCRAPE_COUNT=${SCRAPE_COUNT:-5}
SERVE_TIMEOUT=${SERVE_TIMEOUT:-600} # seconds a serve run may take before the script gives up
GOAL_EPS=200000
GOAL_SCRAPE_MS=50
FLOW='shop=OrderPlaced -> PaymentAuthorized -> StockReserved -> OrderShipped -> EmailSent'

bench_need curl
bench_need jq "apt-get install jq"
((N % 5 == 0)) || { echo "bench: N must be a multiple of 5 (flows of five events)" >&2; exit 2; }
flows_want=$((N / 5))

serve_pid=
bench_on_exit() { [ -z "$serve_pid" ] || { kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true; }; }
bench_start
bench_build eddy produce lagsetup
go run ./bench/gencapture -n "$N" -o "$work/capture.jsonl"
cap=$work/capture.jsonl

# A free loopback port for serve's endpoint (the kernel picks it).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
listen=127.0.0.1:$port

# events_seen: eddy_serve_events_total summed over its clusters (the text
# exposition may write a large counter as 1e+06), or nothing while the
# endpoint does not answer.
events_seen() { metrics_sum "http://$listen/metrics" eddy_serve_events_total; }

# eddy serve brings eddy_serve_events_total up to date once a second (the
# tick of its Drive loop, serve/run.go) or when a flow is finalised (after
# --flow-timeout, 5 min: never here), so the end-to-end time is rounded up to
# that second's tick: it overstates serve's time by up to 1 s. Beside it,
# SERVE_STEADY: the rate between the counter's first update and its last
# below N (whole tick intervals, start-up and the last partial second left
# out), when there were at least two such updates.
SERVE_US=() SERVE_RSS=() SERVE_STEADY=()
serve_run() {
	local t0 t1 deadline seen rc hwm prev=0 tf= cf= tl= cl= now
	t0=${EPOCHREALTIME/./}
	"$work/eddy" serve "kafka:$topic" --from beginning --flow "$FLOW" --listen "$listen" --brokers "$B" \
		>"$work/serve.out" 2>"$work/serve.err" &
	serve_pid=$!
	deadline=$((SECONDS + SERVE_TIMEOUT))
	while :; do
		seen=$(events_seen || true)
		[ "${seen:-0}" -lt "$N" ] || break
		if [ "${seen:-0}" -gt "$prev" ]; then
			now=${EPOCHREALTIME/./}
			[ -n "$tf" ] || { tf=$now cf=$seen; }
			tl=$now cl=$seen prev=$seen
		fi
		if ! kill -0 "$serve_pid" 2>/dev/null; then
			echo "bench: eddy serve exited before it ingested $N events (saw ${seen:-none}):" >&2
			tail -n 5 "$work/serve.err" >&2
			serve_pid=
			return 1
		fi
		if ((SECONDS > deadline)); then
			echo "bench: eddy serve ingested ${seen:-none} of $N events in ${SERVE_TIMEOUT} s" >&2
			return 1
		fi
		sleep "$POLL"
	done
	t1=${EPOCHREALTIME/./}
	if [ "$seen" != "$N" ]; then
		echo "bench: eddy serve counted $seen events, want $N" >&2
		return 1
	fi
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$serve_pid/status") # kB
	# Lag was on: a sample was taken beside ingest, without errors.
	curl -fsS --max-time 2 "http://$listen/metrics" >"$work/metrics" || true
	if ! grep -q '^eddy_lag_sample_timestamp_seconds' "$work/metrics"; then
		echo "bench: eddy serve's /metrics has no lag sample: was lag on?" >&2
		return 1
	fi
	awk '/^eddy_lag_sample_errors/ && $NF != 0 { exit 1 }' "$work/metrics" ||
		echo "   (eddy serve's lag sample reported errors: $(grep '^eddy_lag_sample_errors' "$work/metrics"))"
	kill -TERM "$serve_pid"
	rc=0
	wait "$serve_pid" || rc=$?
	serve_pid=
	# SIGTERM is an interruption: exit 130, as eddy serve --help documents.
	if [ "$rc" != 130 ]; then
		echo "bench: eddy serve exited $rc on SIGTERM, want 130:" >&2
		tail -n 5 "$work/serve.err" >&2
		return 1
	fi
	SERVE_US+=($((t1 - t0)))
	if [ -n "$tf" ] && ((tl > tf)); then
		SERVE_STEADY+=("$(awk -v c="$((cl - cf))" -v t="$((tl - tf))" 'BEGIN { printf "%.0f", c / (t / 1e6) }')")
	else
		SERVE_STEADY+=(-)
	fi
	SERVE_RSS+=("$hwm")
}
trace_run() {
	"$work/eddy" trace flows "kafka:$topic" --from beginning --until end -o json --brokers "$B" >"$work/trace.json"
	local got
	got=$(jq .flows.total "$work/trace.json")
	[ "$got" = "$flows_want" ] || { echo "bench: eddy trace flows found $got flows, want $flows_want" >&2; return 1; }
}
# emit_goal NAME MEDIAN SLOWEST FASTEST GOAL UNIT ID RUNS: the BENCH line of
# a figure against a fixed goal (emit_one's, with the ratio's range too, so
# bench/run judges the goal by the slowest run as well as by the median).
# The ratio is figure / goal for a rate, goal / figure for a time (above 1:
# the goal is met).
emit_goal() {
	local r rs rf range=$3-$4
	if [ "$6" = ms ]; then
		range=$4-$3 # min-max, as the other figures
		r=$(awk -v v="$2" -v g="$5" 'BEGIN { printf "%.2f", g / v }')
		rs=$(awk -v v="$3" -v g="$5" 'BEGIN { printf "%.2f", g / v }')
		rf=$(awk -v v="$4" -v g="$5" 'BEGIN { printf "%.2f", g / v }')
	else
		r=$(awk -v v="$2" -v g="$5" 'BEGIN { printf "%.2f", v / g }')
		rs=$(awk -v v="$3" -v g="$5" 'BEGIN { printf "%.2f", v / g }')
		rf=$(awk -v v="$4" -v g="$5" 'BEGIN { printf "%.2f", v / g }')
	fi
	printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%sx\t%s\t-\t%s-%sx\t%s\t%s\t%s\t%s\t%s\n' \
		"$1" "$2" "the goal" "$5" "$6" "$r" "$range" "$rs" "$rf" "$7 >=1.0" "$FIG_LOAD" "$FIG_STEAL" "$FIG_MARK" "$8"
}
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

echo "bench: serve, $N events ($flows_want five-step flows, $(du -m "$cap" | cut -f1) MB capture) on one topic of $P partitions, $RUNS interleaved pairs after $WARMUP warm-up"
for target in $TARGETS; do
	bench_target "$target"
	topic="bench-serve-$target-$(date +%s)-$$"
	echo
	echo "== $bname: $topic, $P partitions"
	# The topic (no record), then the capture on it, each event with its key
	# (the correlation id: a flow stays on one partition) and headers.
	"$work/produce" -brokers "$B" -topic "$topic" -n 0 -partitions "$P" 2>&1 | sed 's/^/   /'
	"$work/eddy" send "kafka:$topic" "file:$cap" --brokers "$B" >/dev/null
	got=$("$work/eddy" ls "kafka:$topic" --brokers "$B" -o json | jq '[.topics[]?.messages // 0] | add')
	[ "$got" = "$N" ] || { echo "bench: topic $topic holds $got records, want $N" >&2; exit 1; }
	echo "   $topic holds $got records, as it should"

	label="serve live ingest, $bname, $P part."
	fig_begin "$label"
	ab "$RUNS" serve_run trace_run
	fig_end
	# A is serve from its start until its /metrics counted N events (its
	# shutdown is outside the clock); ab's own clock also counts the shutdown.
	AB_A=("${SERVE_US[@]:WARMUP}")
	emit_ab "$label ($N events)" "eddy trace flows --until end" events/s "$N" ""
	read -r rmin rmed rmax < <(stats "${SERVE_RSS[@]:WARMUP}")
	echo "   eddy serve peak RSS (VmHWM) per run: $(for r in "${SERVE_RSS[@]:WARMUP}"; do printf '%s ' "$(mb "$r")"; done)MB; median $(mb "$rmed") MB ($(mb "$rmin")-$(mb "$rmax"))"
	steady=()
	for r in "${SERVE_STEADY[@]:WARMUP}"; do [ "$r" = - ] || steady+=("$r"); done
	if [ ${#steady[@]} -gt 0 ]; then
		read -r qmin qmed qmax < <(stats "${steady[@]}")
		echo "   eddy serve steady ingest (between its counter's once-a-second updates, start-up and the last second left out) per run: ${SERVE_STEADY[*]:WARMUP} events/s; median $qmed ($qmin-$qmax)"
	else
		echo "   eddy serve steady ingest: not measured (fewer than two counter updates before N: N too small for a figure beside the end-to-end one)"
	fi
	read -r smin smed smax < <(stats "${AB_A[@]}")
	e_med=$(conv events/s "$N" "$smed") e_slow=$(conv events/s "$N" "$smax") e_fast=$(conv events/s "$N" "$smin")
	verdict() { awk -v v="$1" -v g="$GOAL_EPS" 'BEGIN { print (v >= g ? "met" : "NOT met") }'; }
	echo "   goal (issue 20): eddy serve >= $GOAL_EPS events/s live, flows and lag on: median $e_med events/s: $(verdict "$e_med"); slowest run $e_slow events/s: $(verdict "$e_slow")  $FIG_MARK  [$FIG_LOAD]"
	emit_goal "$label, vs the goal" "$e_med" "$e_slow" "$e_fast" "$GOAL_EPS" events/s SV1 "${#AB_A[@]}"
	SERVE_US=() SERVE_RSS=() SERVE_STEADY=()

	bench_target_done "$target" "$topic"
done

# --- 2. Scrape time: 1,000 partitions of lag and 50 edges.
echo
fig_begin "serve scrape, 1000 partitions, 50 edges"
go test ./serve -run '^$' -bench '^BenchmarkScrape$' -count "$SCRAPE_COUNT" | tee "$work/scrape.out" | grep -E '^Benchmark'
fig_end
mapfile -t ms < <(awk '/^BenchmarkScrape/ { for (i = 2; i < NF; i++) if ($(i+1) == "ms/scrape") print $i }' "$work/scrape.out")
mapfile -t cpu < <(awk '/^BenchmarkScrape/ { for (i = 2; i < NF; i++) if ($(i+1) == "cpu-ms/scrape") print $i }' "$work/scrape.out")
[ "${#ms[@]}" -gt 0 ] || { echo "bench: BenchmarkScrape printed no ms/scrape" >&2; exit 1; }
read -r mmin mmed mmax < <(stats "${ms[@]}")
read -r cmin cmed cmax < <(stats "${cpu[@]}")
below() { awk -v v="$1" -v g="$GOAL_SCRAPE_MS" 'BEGIN { print (v < g ? "met" : "NOT met") }'; }
printf '%-44s eddy %s ms (%s-%s), CPU %s ms (%s-%s) per scrape over %d runs  goal < %s ms: median %s, slowest %s  %s  [%s, steal %s]\n' \
	"serve scrape, 1000 partitions, 50 edges" "$mmed" "$mmin" "$mmax" "$cmed" "$cmin" "$cmax" "${#ms[@]}" "$GOAL_SCRAPE_MS" \
	"$(below "$mmed")" "$(below "$mmax")" "$FIG_MARK" "$FIG_LOAD" "$FIG_STEAL"
emit_goal "serve scrape, 1000 partitions, 50 edges" "$mmed" "$mmax" "$mmin" "$GOAL_SCRAPE_MS" ms SV2 "${#ms[@]}"
