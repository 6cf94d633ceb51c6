#!/usr/bin/env bash
# bench/redrive_amqp.sh — RabbitMQ DLQ → origin: eddy against the broker's own
# dynamic shovel, on the same broker.
#
# N (default 100,000) persistent messages of SIZE (200) bytes, each with a
# message id and an x-death entry, wait in a durable classic DLQ. Each run
# moves them to a direct exchange that routes them to a durable queue:
#   shovel  a dynamic shovel (rabbitmq_shovel) with ack-mode on-confirm and
#           src-delete-after queue-length: from its creation until the origin
#           queue holds all N;
#   eddy    `eddy replay amqp:DLQ --to amqp:exchange/X/KEY` with publisher
#           confirms, mandatory, the bbolt ledger (INPROGRESS, COMPLETED,
#           fsynced) and acks after COMPLETED: the whole process, start to exit.
# RUNS (default 3) rounds, each running the three in turn (shovel, shovel over
# TCP, eddy: interleaved); prints msgs/s of each as min–max and median, and the
# ratio shovel time / eddy time per round (goal P5 >= 1.0, stretch 2), with the
# load average and CPU steal before and after, marked UNDER LOAD above
# QUIET_LOAD (bench/lib.sh). Both end states are checked (the origin holds N,
# the DLQ 0), so a fast wrong answer cannot win.
# A quick check of the method: N=5000 RUNS=2 bench/redrive_amqp.sh
# BASELINE=/path/to/an/older/eddy runs that binary too, in the same rounds
# (before eddy in even rounds, after it in odd ones), and prints eddy against it and it against the shovel: a
# change measured old vs new under the same load.
# Needs the rabbitmq_shovel plugin (enabled here if rabbitmq-plugins can) and
# the management API. AMQP_URL, MGMT_URL default to the local broker, guest.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${N:-100000}
SIZE=${SIZE:-200}
RUNS=${RUNS:-3}
PREFETCH=${PREFETCH:-}
BASELINE=${BASELINE:-}
AMQP_URL=${AMQP_URL:-${EDDY_TEST_AMQP:-amqp://guest:guest@127.0.0.1:5672/}}
MGMT_URL=${MGMT_URL:-${EDDY_TEST_AMQP_MGMT:-http://127.0.0.1:15672}}
export AMQP_URL
creds=$(echo "$AMQP_URL" | sed -E 's#^amqps?://([^@]*)@.*#\1#')
user=${creds%%:*}
pass=${creds#*:}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/eddy" ./cmd/eddy
go build -o "$tmp/amqpbench" ./bench/amqpbench
B="$tmp/amqpbench"
# Names unique to this run: a concurrent run of this script (or anything else)
# must not purge, fill or delete what this one measures.
run_id=$$
DLQ=bench.redrive.$run_id.dlq X=bench.redrive.$run_id.origin KEY=orders ORIGIN=bench.redrive.$run_id.orders

if ! curl -fsS -u "$user:$pass" "$MGMT_URL/api/shovels" >/dev/null 2>&1; then
	rabbitmq-plugins enable rabbitmq_shovel rabbitmq_shovel_management >/dev/null
fi
curl -fsS -u "$user:$pass" "$MGMT_URL/api/shovels" >/dev/null
$B setup -dlq $DLQ -exchange $X -key $KEY -origin $ORIGIN
trap '$B delete -dlq $DLQ -exchange $X -origin $ORIGIN; rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
rate() { awk -v n="$N" -v t="$1" 'BEGIN { printf "%.0f", n / t }'; }

# shovel_run URI: a dynamic shovel from the DLQ to the origin exchange, both
# ends at URI: "amqp://" is the broker's direct (in-VM) client, the shovel's
# default; amqp://USER:PASS@HOST:PORT goes through TCP and AMQP framing as
# eddy does.
shovel_run() {
	$B purge -queue $ORIGIN
	$B fill -dlq $DLQ -n "$N" -size "$SIZE"
	local name=bench-redrive-$RANDOM body
	body=$(printf '{"value":{"src-protocol":"amqp091","src-uri":"%s","src-queue":"%s","src-delete-after":"queue-length","dest-protocol":"amqp091","dest-uri":"%s","dest-exchange":"%s","dest-exchange-key":"%s","ack-mode":"on-confirm"}}' "$1" $DLQ "$1" $X $KEY)
	local t0 t1
	t0=$(now)
	curl -fsS -u "$user:$pass" -X PUT -H 'content-type: application/json' -d "$body" "$MGMT_URL/api/parameters/shovel/%2F/$name" >/dev/null
	$B wait -queue $ORIGIN -n "$N"
	t1=$(now)
	# The origin can hold every message before the shovel has acked the last of
	# them (on-confirm acks after the confirm); deleting it then would requeue
	# those into the DLQ. It deletes itself once done (src-delete-after): wait
	# for that, with a deadline.
	local deadline=$((SECONDS + 120))
	while curl -fsS -o /dev/null -u "$user:$pass" "$MGMT_URL/api/parameters/shovel/%2F/$name" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
	curl -sS -u "$user:$pass" -X DELETE "$MGMT_URL/api/parameters/shovel/%2F/$name" >/dev/null 2>&1 || true
	[ "$($B depth -queue $DLQ)" = 0 ] || { echo "shovel left messages in the DLQ" >&2; exit 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

eddy_run() {
	local bin=${1:-$tmp/eddy}
	$B purge -queue $ORIGIN
	$B fill -dlq $DLQ -n "$N" -size "$SIZE"
	local t0 t1 extra=()
	[ -n "$PREFETCH" ] && extra=(--prefetch "$PREFETCH")
	rm -f "$tmp/ledger.db"
	t0=$(now)
	EDDY_AMQP_URL=$AMQP_URL EDDY_AMQP_MGMT_URL=$MGMT_URL "$bin" replay amqp:$DLQ --to amqp:exchange/$X/$KEY \
		--ledger "$tmp/ledger.db" "${extra[@]}" 2>"$tmp/eddy.err" || { cat "$tmp/eddy.err" >&2; exit 1; }
	t1=$(now)
	[ "$($B depth -queue $ORIGIN)" = "$N" ] || { echo "eddy: the origin holds $($B depth -queue $ORIGIN), want $N" >&2; exit 1; }
	[ "$($B depth -queue $DLQ)" = 0 ] || { echo "eddy left messages in the DLQ" >&2; exit 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

echo "RabbitMQ DLQ -> origin, $N persistent messages of $SIZE B, $RUNS rounds (shovel, shovel over TCP, eddy in turn)"
echo "machine: $(nproc) cores, RabbitMQ $(curl -fsS -u "$user:$pass" "$MGMT_URL/api/overview" | sed -E 's/.*"rabbitmq_version":"([^"]*)".*/\1/')"
tcp_uri=$(echo "$AMQP_URL" | sed -E 's#/+$##')/%2F
us() { awk -v s="$1" 'BEGIN { printf "%.0f", s * 1e6 }'; }
S=() T=() E=() O=()
fig_begin "RabbitMQ DLQ -> origin"
for i in $(seq "$RUNS"); do
	s=$(shovel_run "amqp://")
	st=$(shovel_run "$tcp_uri")
	old=
	if [ -n "$BASELINE" ] && ((i % 2 == 0)); then
		o=$(eddy_run "$BASELINE") # before eddy in even rounds: neither always goes first
	fi
	e=$(eddy_run)
	if [ -n "$BASELINE" ]; then
		((i % 2 == 0)) || o=$(eddy_run "$BASELINE")
		old="   baseline ${o}s ($(rate "$o") msgs/s)"
		O+=("$(us "$o")")
	fi
	echo "round $i: shovel ${s}s ($(rate "$s") msgs/s)   shovel over TCP ${st}s ($(rate "$st") msgs/s)   eddy ${e}s ($(rate "$e") msgs/s)$old   load $(cut -d' ' -f1 /proc/loadavg)"
	S+=("$(us "$s")") T+=("$(us "$st")") E+=("$(us "$e")")
	fig_sample
done
fig_end
AB_A=("${E[@]}") AB_B=("${S[@]}")
emit_ab "RabbitMQ DLQ -> origin ($N x $SIZE B)" "shovel, direct client" msg/s "$N" "P5 >=1.0"
AB_B=("${T[@]}")
emit_ab "RabbitMQ DLQ -> origin ($N x $SIZE B)" "shovel over TCP" msg/s "$N" ""
if [ -n "$BASELINE" ]; then
	AB_A=("${E[@]}") AB_B=("${O[@]}")
	emit_ab "RabbitMQ DLQ -> origin ($N x $SIZE B)" "baseline eddy" msg/s "$N" ""
	AB_A=("${O[@]}") AB_B=("${S[@]}")
	emit_ab "RabbitMQ DLQ -> origin, baseline ($N x $SIZE B)" "shovel, direct client" msg/s "$N" ""
fi
