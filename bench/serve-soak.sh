#!/usr/bin/env bash
# bench/serve-soak.sh DURATION [INTERVAL] — eddy serve ingesting live shop
# flows at a fixed rate for DURATION (e.g. 60m), flows and lag on, scraped
# like Prometheus would; its memory sampled every INTERVAL seconds (default
# 10): does eddy serve run in constant memory (issue 20: "RSS flat over an
# hour")?
#
# The target is the real Kafka, as bench/serve.sh's live ingest: the one of
# EDDY_TEST_KAFKA, else one started with scripts/brokers.sh up kafka (left
# running). Not the demo's or kfake: both keep every record in memory (the demo
# trims every minute), and the demo's shop comes in bursts, while a real
# broker deletes old segments of the topics (retention 2 min) and the
# producer here holds one rate.
#
#   liveshop (bench/liveshop)  RATE (20000) events/s of shop flows on six topics
#      bench-serve-soak-…-{orders,payments,inventory,shipping,notifications,
#      payments.DLT} of P (6) partitions: 90 % complete, 5 % stop after
#      PaymentAuthorized (finalised incomplete after the flow timeout), 5 %
#      dead-lettered (a copy on payments.DLT with Spring's kafka_dlt-*
#      headers); correlation and event ids never repeat. It keeps the group
#      …-lagging 1,000 records per partition behind on orders.
#   eddy serve   those six topics, --flow shop=…, --expect 'ships=OrderPlaced
#      -> OrderShipped within 1s', --dlq on payments.DLT, --lag on the lagging
#      group, --flow-timeout FLOW_TIMEOUT (30s), --interval 5s
#   a scraper    curl of /metrics every SCRAPE (5) seconds
#
# Every INTERVAL seconds a row goes to $OUT (default
# $TMPDIR/eddy-serve-soak-DATE.csv): unix_seconds, rss_kb (VmRSS of
# /proc/PID/status), heap_alloc, heap_inuse, heap_objects (the Go heap,
# written by eddy serve itself: EDDY_TRACE_MEMSTATS), events (serve's
# eddy_serve_events_total), produced (events the broker acked to the
# producer), flows_open (eddy_flows_open). At the end (or on Ctrl-C: the rows
# so far) it prints the events produced and ingested and their rates against
# RATE, first / peak / last RSS and heap with the slope of a least-squares
# line through the samples after the first FLOW_TIMEOUT (bench/py/memfit.py:
# about zero when flat), the flows counted, the load average and CPU steal at
# start and end, and the mark (UNDER LOAD above QUIET_LOAD, bench/lib.sh).
#
# A soak whose ingest stalled proves nothing, so it fails (exit 1) when the
# producer's rate was below MIN_SHARE (0.95) of RATE, when serve ingested
# fewer than MIN_SHARE of the events produced while it ran, or when it fell
# more than STALL (10) seconds of RATE behind the producer at a sample. The
# slowest interval of each is printed.
#
# A short check of the method: bench/serve-soak.sh 5m 10
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${1:?usage: bench/serve-soak.sh DURATION [INTERVAL], e.g. bench/serve-soak.sh 60m 10}
INTERVAL=${2:-10}
RATE=${RATE:-20000}
P=${P:-6}
SCRAPE=${SCRAPE:-5}
MIN_SHARE=${MIN_SHARE:-0.95}
STALL=${STALL:-10}
FLOW_TIMEOUT=${FLOW_TIMEOUT:-30s}
OUT=${OUT:-${TMPDIR:-/tmp}/eddy-serve-soak-$(date -u +%Y%m%dT%H%M%SZ).csv}
FLOW='shop=OrderPlaced -> PaymentAuthorized -> StockReserved -> OrderShipped -> EmailSent'
secs=$(bench_seconds "$DURATION")
warm=$(bench_seconds "$FLOW_TIMEOUT")
bench_seconds "$INTERVAL" >/dev/null
command -v curl >/dev/null || { echo "bench: curl is needed" >&2; exit 1; }

work=$(mktemp -d)
serve_pid= prod_pid= scrape_pid= prefix= BENCH_KAFKA_STARTED=
cleanup() {
	# Only what this script started, by PID.
	[ -z "$scrape_pid" ] || { kill "$scrape_pid" 2>/dev/null; wait "$scrape_pid" 2>/dev/null || true; }
	[ -z "$prod_pid" ] || { kill "$prod_pid" 2>/dev/null; wait "$prod_pid" 2>/dev/null || true; }
	[ -z "$serve_pid" ] || { kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true; }
	[ -z "$prefix" ] || "$work/liveshop" -brokers "$B" -prefix "$prefix" -cleanup 2>/dev/null || true
	rm -rf "$work"
	# Brokers this script brought up are left running (scripts/brokers.sh
	# down would stop every broker of its run directory, others' too).
	[ -z "$BENCH_KAFKA_STARTED" ] || echo "serve-soak: the Kafka started by scripts/brokers.sh up kafka is left running (scripts/brokers.sh down stops it)" >&2
}
trap cleanup EXIT
# Ctrl-C ends the sampling; the summary of the rows so far is still printed.
stopped=
trap 'stopped=1' INT TERM

go build -o "$work/eddy" ./cmd/eddy
go build -o "$work/liveshop" ./bench/liveshop
bench_kafka "$work" kafka
prefix="bench-serve-soak-$(date +%s)-$$"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port

# The producer first: it creates the topics serve reads.
"$work/liveshop" -brokers "$B" -prefix "$prefix" -rate "$RATE" -partitions "$P" >"$work/produced.txt" 2>"$work/liveshop.err" &
prod_pid=$!
for _ in $(seq 300); do [ -s "$work/produced.txt" ] && break; kill -0 "$prod_pid" 2>/dev/null || break; sleep 0.1; done
[ -s "$work/produced.txt" ] || { echo "bench: the producer did not start:" >&2; cat "$work/liveshop.err" >&2; exit 1; }
# Serve reads from the end: what was produced before it started is not its.
produced() { tail -n1 "$work/produced.txt" | cut -d' ' -f3; }
pr=$(produced)
sources=()
for t in orders payments inventory shipping notifications payments.DLT; do sources+=("kafka:$prefix.$t"); done
EDDY_TRACE_MEMSTATS=$work/heap.csv "$work/eddy" serve "${sources[@]}" --brokers "$B" --listen "127.0.0.1:$port" \
	--flow "$FLOW" --expect 'ships=OrderPlaced -> OrderShipped within 1s' --dlq "kafka:$prefix.payments.DLT" \
	--lag "kafka:$prefix-lagging" --flow-timeout "$FLOW_TIMEOUT" --interval 5s >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 600); do
	curl -fsS --max-time 2 "$url/readyz" >/dev/null 2>&1 && break
	kill -0 "$serve_pid" 2>/dev/null || { echo "bench: eddy serve exited:" >&2; tail -n 5 "$work/serve.err" >&2; serve_pid=; exit 1; }
	sleep 0.1
done
curl -fsS --max-time 2 "$url/readyz" >/dev/null || { echo "bench: eddy serve not ready after 60 s" >&2; exit 1; }
(
	trap - INT TERM
	while :; do curl -fsS --max-time 10 "$url/metrics" >/dev/null 2>&1 || echo "scrape failed at $(date +%s)" >>"$work/scrape.err"; sleep "$SCRAPE"; done
) &
scrape_pid=$!
# Serve, the producer and the scraper are this soak's own CPU (bench_pids).
BENCH_PIDS="$serve_pid $prod_pid $scrape_pid"
echo "serve-soak: $prefix on Kafka $B, $RATE events/s asked, flow timeout $FLOW_TIMEOUT, serve pid $serve_pid, producer pid $prod_pid, $DURATION sampled every ${INTERVAL}s into $OUT"

fig_begin "serve soak, $RATE events/s"
p0=$(produced) e0=$(metrics_sum "$url/metrics" eddy_serve_events_total || true) t0=$(date +%s)
e0=${e0:-0}
echo "unix_seconds,rss_kb,heap_alloc,heap_inuse,heap_objects,events,produced,flows_open" >"$OUT"
end=$((t0 + secs))
while [ -z "$stopped" ] && [ "$(date +%s)" -lt "$end" ]; do
	kill -0 "$serve_pid" 2>/dev/null || { echo "bench: eddy serve exited early:" >&2; tail -n 5 "$work/serve.err" >&2; serve_pid=; exit 1; }
	kill -0 "$prod_pid" 2>/dev/null || { echo "bench: the producer exited early:" >&2; tail -n 5 "$work/liveshop.err" >&2; prod_pid=; exit 1; }
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$serve_pid/status")
	heap=$( (tail -n1 "$work/heap.csv" 2>/dev/null || true) | cut -d, -f2-4)
	echo "$(date +%s),$rss,${heap:-,,},$(metrics_sum "$url/metrics" eddy_serve_events_total || true),$(produced),$(metrics_sum "$url/metrics" eddy_flows_open || true)" >>"$OUT"
	fig_sample
	sleep "$INTERVAL" || true
done
t1=$(date +%s)
p1=$(produced)
fig_end
if [ -n "$stopped" ]; then
	# Ctrl-C reached serve and the producer too: the memory so far is all.
	echo "interrupted after $((t1 - t0)) s: the samples so far"
	python3 bench/py/memfit.py "$OUT" "$warm"
	echo "load: $FIG_LOAD, steal $FIG_STEAL: $FIG_MARK"
	exit 130
fi
e1=$(metrics_sum "$url/metrics" eddy_serve_events_total || true)
e1=${e1:-0}
# Serve's final figures once it has read what was produced: its count stands
# still for a second (30 s at most).
kill -TERM "$prod_pid"
wait "$prod_pid" || true
prod_pid=
acked=$(produced)
prev=-1
for _ in $(seq 30); do
	now=$(metrics_sum "$url/metrics" eddy_serve_events_total || true)
	[ "${now:-0}" != "$prev" ] || break
	prev=${now:-0}
	sleep 1
done
curl -fsS --max-time 10 "$url/metrics" >"$work/metrics" || true
kill "$scrape_pid" 2>/dev/null || true
wait "$scrape_pid" 2>/dev/null || true
scrape_pid=
kill -TERM "$serve_pid"
rc=0
wait "$serve_pid" || rc=$?
serve_pid=
[ "$rc" = 130 ] || echo "bench: eddy serve exited $rc on SIGTERM, want 130 (interrupted): $(tail -n 3 "$work/serve.err")" >&2

m() { awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF; n = 1 } END { printf "%.0f", n ? s : -1 }' "$work/metrics"; }
el=$((t1 - t0))
((el > 0)) || el=1
echo
echo "producer: asked $RATE events/s, achieved $(awk -v n="$((p1 - p0))" -v t="$el" 'BEGIN { printf "%.0f", n / t }') events/s over the ${el} s sampled ($((p1 - p0)) events acked by the broker); $(tail -n 2 "$work/liveshop.err" | tr '\n' ' ')"
echo "eddy serve: ingested $(m eddy_serve_events_total) events of $((acked - pr)) produced since it started; $(awk -v n="$((e1 - e0))" -v t="$el" 'BEGIN { printf "%.0f", n / t }') events/s over the ${el} s sampled"
echo "flows: started $(m eddy_flows_started_total), completed $(m eddy_flows_completed_total), incomplete $(m eddy_flows_incomplete_total), dead-lettered $(m eddy_flows_dead_lettered_total), open at the end $(m eddy_flows_open); SLO ships good/total $(m eddy_slo_good_total)/$(m eddy_slo_total); DLQ inflow $(m eddy_dlq_inflow_total)"
echo "lag: group $prefix-lagging $(m eddy_kafka_consumergroup_lag) records, $(m eddy_kafka_consumergroup_time_lag_seconds) s; lag sample errors $(m eddy_lag_sample_errors); failed scrapes $( (cat "$work/scrape.err" 2>/dev/null || true) | wc -l)"
python3 bench/py/memfit.py "$OUT" "$warm"
echo "load: $FIG_LOAD, steal $FIG_STEAL: $FIG_MARK"

# Did ingest keep up? The producer's rate, serve's share of what was
# produced, and the slowest interval of serve's ingest after warm-up.
fail=
awk -v n="$((p1 - p0))" -v t="$el" -v r="$RATE" -v s="$MIN_SHARE" 'BEGIN { exit !(n / t < s * r) }' &&
	{ echo "NOT KEPT: the producer made $((p1 - p0)) events in $el s, below $MIN_SHARE of $RATE/s: the soak did not run at the rate asked"; fail=1; }
awk -v e="$(m eddy_serve_events_total)" -v a="$((acked - pr))" -v s="$MIN_SHARE" 'BEGIN { exit !(e < s * a) }' &&
	{ echo "NOT KEPT: eddy serve ingested $(m eddy_serve_events_total) of $((acked - pr)) events produced while it ran"; fail=1; }
# The slowest interval of each (a busy machine slows the producer too), and
# how far serve fell behind the producer at worst (the producer's count is
# up to a second old: ~RATE events of noise).
read -r pslow eslow behind < <(awk -F, -v pr="$pr" 'NR > 2 && $6 != "" && $7 != "" && pe != "" {
		dt = $1 - pt; if (dt <= 0) next
		p = ($7 - pp) / dt; e = ($6 - pe) / dt
		if (ps == "" || p < ps) ps = p; if (es == "" || e < es) es = e }
	NR > 1 && $6 != "" && $7 != "" { b = ($7 - pr) - $6; if (b > mb) mb = b; pe = $6; pp = $7; pt = $1 }
	END { printf "%s %s %.0f\n", ps == "" ? "-" : sprintf("%.0f", ps), es == "" ? "-" : sprintf("%.0f", es), mb }' "$OUT")
echo "slowest ${INTERVAL}s interval: producer $pslow events/s, eddy serve $eslow events/s; eddy serve at most $behind events ($(awk -v b="$behind" -v r="$RATE" 'BEGIN { printf "%.1f", b / r }') s of RATE) behind the producer"
if awk -v b="$behind" -v r="$RATE" -v s="$STALL" 'BEGIN { exit !(b > r * s) }'; then
	echo "NOT KEPT: eddy serve fell more than ${STALL} s of $RATE/s behind the producer: its ingest stalled"
	fail=1
fi
echo "samples: $OUT"
[ -z "$fail" ] || exit 1
