#!/usr/bin/env bash
# bench/tui-soak.sh DURATION [INTERVAL] — `eddy tui --demo` left open for
# DURATION (e.g. 60m) in a detached tmux at 120x35, its memory sampled every
# INTERVAL seconds (default 15): does the TUI with its in-process demo cluster
# stay in bounded memory (issue 16, item 13: the demo's topics have a retention
# by size and time; the tail's ring is --buffer events)?
#
# Every sample it also moves between views (Sources, Tail, Lag, DLQ, Trace of
# the event under the cursor) as a person would, so every view's reads run.
# Samples go to $OUT (default $TMPDIR/eddy-tui-soak-DATE.csv):
# unix_seconds,rss_kb,load1. At the end it prints first / peak / last RSS, the
# RSS every ten minutes, and the slope of a least-squares line through the
# samples after SETTLE minutes (default 35: the demo keeps events 30 minutes,
# so memory grows until retention starts deleting): about zero for bounded
# memory.
#
# The load average and CPU steal are printed at the start and the end, and the
# run marked UNDER LOAD above QUIET_LOAD (bench/lib.sh).
#
# Needs tmux; runs its own tmux server, so a user's sessions are not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
command -v tmux >/dev/null || { echo "tui-soak: tmux is needed" >&2; exit 1; }

DURATION=${1:?usage: bench/tui-soak.sh DURATION [INTERVAL], e.g. bench/tui-soak.sh 60m 15}
INTERVAL=${2:-15}
OUT=${OUT:-${TMPDIR:-/tmp}/eddy-tui-soak-$(date -u +%Y%m%dT%H%M%SZ).csv}
secs=$(python3 -c "import re,sys; m=re.fullmatch(r'(\d+)([smh]?)', sys.argv[1]); print(int(m[1])*{'':1,'s':1,'m':60,'h':3600}[m[2]])" "$DURATION")

work=$(mktemp -d)
session=eddy-tui-soak-$$
tmux() { command tmux -L "$session" "$@"; }
trap 'tmux kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

go build -o "$work/eddy" ./cmd/eddy
tmux new-session -d -s "$session" -x 120 -y 35 \
	"XDG_CONFIG_HOME=$work/config NO_COLOR=1 exec $work/eddy tui --demo 2>$work/stderr"
pid=
for _ in $(seq 1 100); do
	pid=$(pgrep -f "^$work/eddy tui --demo" | head -1 || true)
	[ -n "$pid" ] && break
	sleep 0.1 # polling for the process to exist, with a deadline of 10 s
done
[ -n "$pid" ] || { echo "tui-soak: eddy tui did not start" >&2; exit 1; }

fig_begin "tui soak"
echo "unix_seconds,rss_kb,load1" >"$OUT"
keys=(2 enter t esc esc 3 4 1)
start=$(date +%s)
i=0
while :; do
	now=$(date +%s)
	[ $((now - start)) -ge "$secs" ] && break
	kill -0 "$pid" 2>/dev/null || { echo "tui-soak: eddy tui exited early" >&2; cat "$work/stderr" >&2; exit 1; }
	rss=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")
	echo "$now,$rss,$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT"
	tmux send-keys -t "$session" "${keys[$((i % ${#keys[@]}))]}"
	i=$((i + 1))
	fig_sample
	sleep "$INTERVAL" # the sampling interval itself, not a synchronisation
done
fig_end

python3 - "$OUT" "${SETTLE:-35}" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
t = [int(r["unix_seconds"]) for r in rows]
m = [int(r["rss_kb"]) for r in rows]
l = [float(r["load1"]) for r in rows]
t0 = t[0]
settle = int(sys.argv[2]) * 60
late = [(x - t0, y) for x, y in zip(t, m) if x - t0 >= settle]
slope = 0.0
if len(late) > 2:
    n = len(late); sx = sum(x for x, _ in late); sy = sum(y for _, y in late)
    sxx = sum(x * x for x, _ in late); sxy = sum(x * y for x, y in late)
    slope = (n * sxy - sx * sy) / (n * sxx - sx * sx) * 3600
marks = " ".join(f"{(x-t0)//60}m:{y/1024:.0f}" for x, y in zip(t, m) if (x - t0) // 60 % 10 == 0 and (x - t0) % 60 < 15)
print(f"tui-soak: {len(rows)} samples over {(t[-1]-t0)/60:.1f} min; RSS first {m[0]/1024:.0f} MB, "
      f"peak {max(m)/1024:.0f} MB, last {m[-1]/1024:.0f} MB; slope after {settle//60} min {slope/1024:+.1f} MB/h "
      f"({len(late)} samples); load1 {min(l):.1f}-{max(l):.1f}")
print(f"tui-soak: RSS (MB) by minute: {marks}")
EOF
echo "tui-soak: samples in $OUT"
