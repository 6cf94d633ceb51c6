# bench/lib.sh — sourced by bench/*.sh: interleaved runs, figures as ranges,
# and the machine's load beside every figure; and the set-up and teardown the
# scripts share (the work directory, the builds, the real Kafka or kfake, the
# cleanup at exit: see bench_start and below).
#
# A figure is only as true as the machine it was taken on. Every script here
#   - runs the commands it compares interleaved, A B A B … (ab), so a drift of
#     the machine's speed falls on both, and the ratio is taken pair by pair;
#   - prints the load average and the CPU steal (from /proc/stat) before and
#     after each figure (fig_begin / fig_end), and samples the load between
#     pairs;
#   - marks a figure UNDER LOAD when the 1-minute load average besides the
#     benchmark's own was above QUIET_LOAD (default 1.0: on 2 cores, one busy
#     core besides the benchmark) at any sample, other processes used more than
#     QUIET_OTHERS (10) percent of the CPU, or the steal was above QUIET_STEAL
#     percent (default 5) (see fig_end): bench/run lists such a figure as under
#     load, never as the result;
#   - quotes min–max over the runs and the median, never a best run alone.
#
# BENCH lines (one per figure, for bench/run), tab-separated:
#   BENCH name eddy anchor-tool anchor unit ratio eddy-range anchor-range
#         ratio-range goal load steal mark runs
# eddy/anchor/ratio are medians; the ranges are min–max over the runs (the
# ratio's over the A/B pairs); goal is "P1 >=1.0" style (empty: no goal);
# load is "before -> after (max M; ours C cores, others O%)"; mark is "quiet"
# or "UNDER LOAD".

QUIET_LOAD=${QUIET_LOAD:-1.0}
QUIET_OTHERS=${QUIET_OTHERS:-10}
QUIET_STEAL=${QUIET_STEAL:-5}
WARMUP=${WARMUP:-1}
BENCH_HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

bench_loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_cpustat: total, busy and steal jiffies of all CPUs (/proc/stat's cpu
# line: user nice system idle iowait irq softirq steal ...).
bench_cpustat() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t, t - $5 - $6, $9; exit }' /proc/stat; }

# bench_pids: the processes whose CPU is the benchmark's own besides this
# script's children: the brokers it talks to (whatever listens on the ports of
# EDDY_TEST_KAFKA and EDDY_TEST_AMQP) and BENCH_PIDS (an in-process kfake).
bench_pids() {
	local port kafka=${EDDY_TEST_KAFKA:-}
	[ -z "$kafka" ] || kafka=${kafka##*:}
	for port in $kafka $(echo "${EDDY_TEST_AMQP:-}" | sed -nE 's#.*:([0-9]+)/?$#\1#p'); do
		ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2
	done | sort -u
	for port in ${BENCH_PIDS:-}; do echo "$port"; done
}

# bench_owncpu: jiffies of CPU used so far by this script's children and by
# bench_pids (utime + stime, /proc/PID/stat fields 14 and 15; after the
# command name, whose parentheses may hold spaces, they are fields 12 and 13).
bench_owncpu() {
	local c pid sum=0 t
	# This script and its children, waited for (utime, stime, cutime, cstime
	# of its own /proc/$$/stat, fields 14 to 17: $$ is this script even in a
	# subshell).
	c=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$$/stat")
	for pid in $FIG_PIDS; do
		t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
		sum=$((sum + t))
	done
	echo $((c + sum))
}

# fig_begin LABEL: start a figure; prints the machine's state.
fig_begin() {
	FIG_LABEL=$1
	FIG_PIDS=$(bench_pids | tr '\n' ' ')
	FIG_LOAD0=$(bench_loadavg)
	FIG_STAT0=$(bench_cpustat)
	FIG_OWN0=$(bench_owncpu)
	FIG_MAXLOAD=${FIG_LOAD0%% *}
	echo "[$FIG_LABEL] before: load average $FIG_LOAD0 ($(nproc) cores)"
}

# fig_sample: note the 1-minute load average now (between runs).
fig_sample() {
	local l
	l=$(cut -d' ' -f1 /proc/loadavg)
	FIG_MAXLOAD=$(awk -v a="$FIG_MAXLOAD" -v b="$l" 'BEGIN { print (b > a ? b : a) }')
}

# fig_end: end the figure; sets FIG_LOAD ("before -> after (max M; ours C
# cores, others O%)"), FIG_STEAL (percent of CPU time stolen during the
# figure) and FIG_MARK.
#
# The load average counts the benchmark's own processes too (the command
# timed, the broker): on 2 cores a quiet machine running a benchmark shows a
# 1-minute load of 1 to 2. So the figure is marked UNDER LOAD when the load
# besides ours — the highest 1-minute load sampled minus the cores our own
# processes kept busy on average (this script's children and the brokers) —
# is above QUIET_LOAD, or when other processes used more than QUIET_OTHERS
# percent of the machine's CPU time (busy jiffies of /proc/stat minus ours),
# or the steal is above QUIET_STEAL percent. Brokers shared with others count
# as ours: their work for others is not seen.
fig_end() {
	fig_sample
	local load1 stat1 own1
	load1=$(bench_loadavg)
	stat1=$(bench_cpustat)
	own1=$(bench_owncpu)
	read -r FIG_STEAL FIG_OTHERS FIG_OWN < <(awk -v a="$FIG_STAT0" -v b="$stat1" -v o0="$FIG_OWN0" -v o1="$own1" -v n="$(nproc)" 'BEGIN {
		split(a, x, " "); split(b, y, " "); dt = y[1] - x[1]; if (dt <= 0) dt = 1
		own = o1 - o0; others = (y[2] - x[2]) - own; if (others < 0) others = 0
		printf "%.1f%% %.0f%% %.2f\n", 100 * (y[3] - x[3]) / dt, 100 * others / dt, n * own / dt }')
	FIG_LOAD="${FIG_LOAD0%% *} -> ${load1%% *} (max $FIG_MAXLOAD; ours $FIG_OWN cores, others $FIG_OTHERS)"
	if awk -v m="$FIG_MAXLOAD" -v own="$FIG_OWN" -v q="$QUIET_LOAD" -v o="${FIG_OTHERS%\%}" -v qo="$QUIET_OTHERS" \
		-v s="${FIG_STEAL%\%}" -v qs="$QUIET_STEAL" 'BEGIN { exit !(m - own > q || o > qo || s > qs) }'; then
		FIG_MARK="UNDER LOAD"
	else
		FIG_MARK=quiet
	fi
	echo "[$FIG_LABEL] after: load average $load1; our processes kept $FIG_OWN cores busy, others used $FIG_OTHERS of the CPU, steal $FIG_STEAL; $FIG_MARK (quiet: load besides ours <= $QUIET_LOAD, others <= $QUIET_OTHERS%, steal <= $QUIET_STEAL%)"
}

# ab RUNS FN_A FN_B [AFTER_A AFTER_B]: WARMUP pairs not counted, then RUNS
# pairs A B A B …; each FN is a shell function that runs one command and
# checks its output (returning non-zero on a wrong answer, which stops the
# script: a fast wrong answer cannot win). AFTER_A / AFTER_B, when given, run
# after each A / B outside the clock (a read-back check, the next run's
# set-up). Sets AB_A and AB_B: wall microseconds of each counted run.
ab() {
	local runs=$1 fa=$2 fb=$3 aa=${4:-:} abb=${5:-:} i t0 t1 ta tb
	AB_A=() AB_B=()
	for ((i = 0; i < WARMUP + runs; i++)); do
		t0=${EPOCHREALTIME/./}
		"$fa" || { echo "bench: $fa failed" >&2; exit 1; }
		t1=${EPOCHREALTIME/./}
		ta=$((t1 - t0))
		"$aa" || { echo "bench: $aa failed" >&2; exit 1; }
		t0=${EPOCHREALTIME/./}
		"$fb" || { echo "bench: $fb failed" >&2; exit 1; }
		t1=${EPOCHREALTIME/./}
		tb=$((t1 - t0))
		"$abb" || { echo "bench: $abb failed" >&2; exit 1; }
		if ((i >= WARMUP)); then
			AB_A+=("$ta") AB_B+=("$tb")
		fi
		fig_sample
	done
}

# stats V...: "min median max" of the numbers.
stats() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		print v[1], m, v[NR] }'
}

# conv UNIT N US: a time in microseconds as UNIT (ms, s, or a rate msg/s /
# events/s over N).
conv() {
	awk -v u="$1" -v n="$2" -v t="$3" 'BEGIN {
		if (u == "ms") printf "%.1f", t / 1e3
		else if (u == "s") printf "%.3f", t / 1e6
		else printf "%.0f", n / (t / 1e6) }'
}

# emit_ab NAME ANCHOR UNIT N GOAL: the BENCH line and a readable row for the
# last ab (A is eddy, B the anchor); the ratio is anchor time / eddy time per
# pair (above 1: eddy faster). Call between fig_begin and fig_end's output:
# it uses FIG_LOAD, FIG_STEAL, FIG_MARK, so call fig_end first.
emit_ab() {
	local name=$1 anchor=$2 unit=$3 n=$4 goal=$5 a b r i ratios=()
	for ((i = 0; i < ${#AB_A[@]}; i++)); do
		ratios+=("$(awk -v a="${AB_A[i]}" -v b="${AB_B[i]}" 'BEGIN { printf "%.4f", b / a }')")
	done
	read -r a_min a_med a_max < <(stats "${AB_A[@]}")
	read -r b_min b_med b_max < <(stats "${AB_B[@]}")
	read -r r_min r_med r_max < <(stats "${ratios[@]}")
	local e em eM k km kM
	e=$(conv "$unit" "$n" "$a_med") k=$(conv "$unit" "$n" "$b_med")
	# For a rate, the slowest run is the smallest figure.
	if [ "$unit" = ms ] || [ "$unit" = s ]; then
		em=$(conv "$unit" "$n" "$a_min") eM=$(conv "$unit" "$n" "$a_max")
		km=$(conv "$unit" "$n" "$b_min") kM=$(conv "$unit" "$n" "$b_max")
	else
		em=$(conv "$unit" "$n" "$a_max") eM=$(conv "$unit" "$n" "$a_min")
		km=$(conv "$unit" "$n" "$b_max") kM=$(conv "$unit" "$n" "$b_min")
	fi
	local rr rm
	rm=$(printf '%.2fx' "$r_med")
	rr=$(printf '%.2f-%.2fx' "$r_min" "$r_max")
	printf '%-44s eddy %s %s (%s-%s)  %s %s (%s-%s)  ratio %s (%s over %d pairs)  %s  [%s, steal %s]\n' \
		"$name" "$e" "$unit" "$em" "$eM" "$anchor" "$k" "$km" "$kM" "$rm" "$rr" "${#AB_A[@]}" "$FIG_MARK" "$FIG_LOAD" "$FIG_STEAL"
	printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\t%s-%s\t%s-%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
		"$name" "$e" "$anchor" "$k" "$unit" "$rm" "$em" "$eM" "$km" "$kM" "$rr" "$goal" "$FIG_LOAD" "$FIG_STEAL" "$FIG_MARK" "${#AB_A[@]}"
}

# emit_one NAME EDDY ANCHOR ANCHOR_VALUE UNIT RATIO EDDY_RANGE GOAL RUNS: a
# BENCH line for a figure measured against a fixed budget rather than a
# second command (a frame budget, a memory goal).
emit_one() {
	printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t-\t-\t%s\t%s\t%s\t%s\t%s\n' \
		"$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$FIG_LOAD" "$FIG_STEAL" "$FIG_MARK" "$9"
}

# bench_seconds DURATION: 90, 90s, 5m or 1h as seconds; a usage error
# (exit 2) otherwise.
bench_seconds() {
	[[ $1 =~ ^([0-9]+)([smh]?)$ ]] || { echo "bench: $1 is not a duration (90, 90s, 5m, 1h)" >&2; exit 2; }
	case ${BASH_REMATCH[2]} in
	h) echo $((BASH_REMATCH[1] * 3600)) ;;
	m) echo $((BASH_REMATCH[1] * 60)) ;;
	*) echo "${BASH_REMATCH[1]}" ;;
	esac
}

# bench_kafka WORKDIR [SERVICES]: the real Kafka to run against in B:
# EDDY_TEST_KAFKA's, else scripts/brokers.sh up SERVICES (default all; its
# environment sourced). BENCH_KAFKA_STARTED is set only when no Kafka
# answered on brokers.sh's port before: `up` adopts brokers that already run
# (another session's), and a caller that stops what it started must never
# stop those.
bench_kafka() {
	if [ -z "${EDDY_TEST_KAFKA:-}" ]; then
		(exec 3<>/dev/tcp/127.0.0.1/"${EDDY_KAFKA_PORT:-39092}") 2>/dev/null || BENCH_KAFKA_STARTED=1
		# shellcheck disable=SC2086 # SERVICES is a list
		scripts/brokers.sh up ${2:-} >"$1/env"
		. "$1/env"
	fi
	B=$EDDY_TEST_KAFKA
}

# --- Set-up and teardown shared by the scripts: a work directory, the go
# builds, the real Kafka (scripts/brokers.sh) and kfake, and the cleanup.
#
# bench_start: a fresh work directory ($work) and the EXIT trap that cleans
# up (bench_cleanup). A script with something of its own to undo at the end
# (its topics on the real broker, a process) defines bench_on_exit, which
# runs first.
bench_start() {
	work=$(mktemp -d)
	started= kfake_pid=
	trap bench_cleanup EXIT
}

# bench_cleanup: bench_on_exit, then stop kfake, remove $work and stop the
# brokers when this script started them (unless EDDY_KEEP_BROKERS is set:
# bench/run stops them itself).
bench_cleanup() {
	if declare -F bench_on_exit >/dev/null; then bench_on_exit || true; fi
	kfake_stop 2>/dev/null
	rm -rf "$work"
	if [ -n "$started" ] && [ -z "${EDDY_KEEP_BROKERS:-}" ]; then scripts/brokers.sh down; fi
}

# bench_need CMD [HOW]: stop with a clear line unless CMD is installed.
bench_need() {
	command -v "$1" >/dev/null || { echo "bench: $1 is needed${2:+ ($2)}" >&2; exit 1; }
}

# bench_build NAME...: go build each into $work/NAME: eddy from ./cmd/eddy,
# any other from ./bench/NAME (produce, lagsetup, schemaproduce, ...).
bench_build() {
	local name
	for name in "$@"; do
		if [ "$name" = eddy ]; then
			go build -o "$work/eddy" ./cmd/eddy
		else
			go build -o "$work/$name" "./bench/$name"
		fi
	done
}

# kafka_up [VAR...]: B is the real Kafka. The brokers already running
# (EDDY_TEST_KAFKA and every VAR set, e.g. EDDY_TEST_SCHEMA_REGISTRY) are
# used and left alone; else scripts/brokers.sh brings them up, exports their
# variables, and bench_cleanup stops them at the end if it started them.
kafka_up() {
	local v need=
	for v in EDDY_TEST_KAFKA "$@"; do [ -n "${!v:-}" ] || need=1; done
	if [ -n "$need" ]; then
		# Started by us only when nothing answered on the port before:
		# `up` adopts brokers that already run (another session's), and
		# bench_cleanup must never stop those.
		(exec 3<>/dev/tcp/127.0.0.1/"${EDDY_KAFKA_PORT:-39092}") 2>/dev/null || started=1
		scripts/brokers.sh up >"$work/env"
		. "$work/env"
	fi
	B=$EDDY_TEST_KAFKA
}

# metrics_sum URL NAME: the sum of metric NAME's samples over all its labels
# in the text exposition at URL (a large counter may be written as 1e+06),
# or nothing while the endpoint does not answer or has no such metric.
metrics_sum() {
	curl -fsS --max-time 2 "$1" 2>/dev/null |
		awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $NF; n = 1 } END { if (n) printf "%.0f\n", s }'
}

# registry_up: kafka_up, with the Schema Registry (Apicurio, scripts/brokers.sh)
# beside the Kafka: B and R, its URL.
registry_up() {
	kafka_up EDDY_TEST_SCHEMA_REGISTRY
	[ -n "${EDDY_TEST_SCHEMA_REGISTRY:-}" ] || { echo "bench: no schema registry (scripts/brokers.sh needs a Java 21+ for Apicurio)" >&2; exit 1; }
	R=$EDDY_TEST_SCHEMA_REGISTRY
}

# kafka_version: "Kafka 4.3.1", the version of the jars scripts/brokers.sh
# runs ("Kafka" alone when it cannot tell).
kafka_version() {
	local v
	v="Kafka $(basename "${EDDY_TEST_KAFKA_LIBS:-kafka}" | sed -n 's/^kafka-\([0-9.]*\).*/\1/p')"
	echo "${v% }"
}

# kafka_delete PREFIX...: delete the topics and groups whose names start with
# each PREFIX on the real broker, EDDY_TEST_KAFKA (it keeps its topics on
# disk); quiet, and never a failure (this is cleanup).
kafka_delete() {
	local p
	[ -x "$work/lagsetup" ] && [ -n "${EDDY_TEST_KAFKA:-}" ] || return 0
	for p in "$@"; do
		"$work/lagsetup" -brokers "$EDDY_TEST_KAFKA" -cleanup -prefix "$p" >/dev/null 2>&1 || true
	done
}

# kafka_dlt NAME N SIZE PARTITIONS: on the real Kafka, a fresh origin topic
# (base: NAME-TIME-PID, empty) and its dead-letter topic (dlt: base.DLT)
# holding N records of ~SIZE B, PARTITIONS partitions each (bench/produce:
# bench_build produce first). The letters carry no dead-letter headers: their
# origin is the DLT's name.
kafka_dlt() {
	base="$1-$(date +%s)-$$"
	dlt="$base.DLT"
	"$work/produce" -brokers "$B" -topic "$dlt" -n "$2" -size "$3" -partitions "$4"
	"$work/produce" -brokers "$B" -topic "$base" -n 0 -partitions "$4" 2>/dev/null # the origin
}

# kfake_start CMD...: start CMD, a kfake server that prints its address and
# serves until its stdin closes (bench/produce -serve-kfake, bench/lagsetup
# -kfake); its stdin is held open on fd 3 until kfake_stop. Sets B to its
# address, kfake_pid, and BENCH_PIDS (the broker's CPU is the benchmark's
# own). Waits for the address up to KFAKE_WAIT seconds (default 10).
kfake_start() {
	local i
	rm -f "$work/hold"
	mkfifo "$work/hold"
	"$@" <"$work/hold" >"$work/kfake.addr" &
	kfake_pid=$!
	BENCH_PIDS=$kfake_pid
	exec 3>"$work/hold"
	for ((i = 0; i < ${KFAKE_WAIT:-10} * 10; i++)); do # waiting for the address, with a deadline
		[ -s "$work/kfake.addr" ] && break
		kill -0 "$kfake_pid" 2>/dev/null || break
		sleep 0.1
	done
	B=$(cat "$work/kfake.addr")
	[ -n "$B" ] || { echo "bench: kfake did not start" >&2; exit 1; }
}

# kfake_stop: close kfake's stdin and wait for it to end.
kfake_stop() {
	[ -n "${kfake_pid:-}" ] || return 0
	exec 3>&-
	wait "$kfake_pid" || true
	kfake_pid= BENCH_PIDS=
	rm -f "$work/hold"
}

# bench_target kafka|kfake: B and bname (the broker's name in the report) for
# one of a script's TARGETS: the real Kafka (kafka_up), or kfake served by
# bench/produce -serve-kfake (bench_build produce first).
bench_target() {
	case $1 in
	kafka)
		kafka_up
		bname=$(kafka_version) ;;
	kfake)
		kfake_start "$work/produce" -serve-kfake
		bname=kfake ;;
	*) echo "bench: unknown target $1 (kafka, kfake)" >&2; exit 2 ;;
	esac
}

# bench_target_done TARGET TOPIC: the end of a target: TOPIC deleted from the
# real Kafka, kfake stopped.
bench_target_done() {
	case $1 in
	kafka) kafka_delete "$2" ;;
	kfake) kfake_stop ;;
	esac
}

# kcat_version: kcat's version and its librdkafka's, for a report's header.
kcat_version() {
	kcat -V 2>/dev/null | sed -n 's/^Version \([^ ]*\).*librdkafka \([^ ]*\).*/\1 (librdkafka \2)/p' | head -n1
}

# KCAT_TUNED_X: kcat's settings for throughput (larger fetches): kcat as
# shipped waits on small fetches, so tuned kcat is the stronger anchor.
KCAT_TUNED_X=(-X fetch.max.bytes=52428800 -X max.partition.fetch.bytes=10485760 -X queued.min.messages=1000000 -X fetch.wait.max.ms=100)
