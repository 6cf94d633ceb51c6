#!/usr/bin/env bash
# scripts/tui-capture.sh — check eddy tui as a person would: run
# `eddy tui --demo` in a detached tmux session at 100x30, press keys, and
# capture the pane after each step (tmux capture-pane -p) into OUT (default
# testdata/tui/). Each step waits until the pane shows what it should (with
# a deadline), so a capture is never of a half-drawn screen. Ends with q and
# checks the exit status is 0 and that nothing reached stdout.
#
# With STDERR_FILE=1, eddy's stderr is redirected to a file (eddy tui
# 2>FILE): the UI must then draw on the controlling terminal, and the file,
# copied to OUT/stderr.txt, must hold no escape sequence.
#
# Needs tmux; runs its own tmux server (socket SESSION, default eddy-tui-PID),
# so a user's sessions are never touched. The demo's context is written to a
# throwaway config directory. cmd/eddy's TestTUIUnderTmux runs this in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tmux >/dev/null || { echo "tui-capture: tmux is needed (apt-get install tmux)" >&2; exit 1; }
OUT=${OUT:-testdata/tui}
mkdir -p "$OUT"
work=$(mktemp -d)
session=${SESSION:-eddy-tui-$$}
tmux() { command tmux -L "$session" "$@"; }
trap 'tmux kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/eddy" ./cmd/eddy

redirect=
[ "${STDERR_FILE:-}" = 1 ] && redirect="2>$work/stderr"
tmux new-session -d -s "$session" -x 100 -y 30 \
	"XDG_CONFIG_HOME=$work/config NO_COLOR=1 $work/eddy tui --demo >$work/stdout $redirect; echo \$? >$work/status; sleep 600"

pane() { tmux capture-pane -p -t "$session"; }

# wait_for TEXT [SECONDS]: until the pane contains TEXT (wait_re: matches
# the extended regular expression RE).
wait_for() { wait_match -F "$@"; }
wait_re() { wait_match -E "$@"; }
wait_match() {
	local how=$1
	shift
	local deadline=$((SECONDS + ${2:-30}))
	until pane | grep -q "$how" -- "$1"; do
		if ((SECONDS > deadline)); then
			echo "tui-capture: no \"$1\" on the screen after ${2:-30}s; it shows:" >&2
			pane >&2
			exit 1
		fi
		sleep 0.1 # poll the pane; the condition, not the time, ends the wait
	done
}

# wait_events N: until the tail's status bar counts at least N events.
wait_events() {
	local deadline=$((SECONDS + 60))
	until [ "$(pane | grep -oE '[0-9]+ events' | tail -1 | cut -d' ' -f1)" -ge "$1" ] 2>/dev/null; do
		((SECONDS < deadline)) || { echo "tui-capture: fewer than $1 events after 60s" >&2; pane >&2; exit 1; }
		sleep 0.1
	done
}

keys() { tmux send-keys -t "$session" "$@"; }
snap() { pane >"$OUT/$1.txt"; echo "captured $OUT/$1.txt"; }

wait_for "kafka:payments.DLT"
wait_for "▁"   # a second listing: rates and sparklines
snap 01-sources

keys / o r d e r s Enter Enter
wait_for "FOLLOW"
wait_for "OrderPlaced"
# Let a few seconds of orders arrive, then pick one a second old.
wait_events 60
for _ in $(seq 20); do keys k; done
wait_for "SCROLL"
snap 02-tail

keys Enter
wait_for "payload (JSON"
snap 03-event

keys t
wait_for "edges of the"
snap 04-trace

keys 3
# Lag samples from the start, shown or not: at least two samples taken.
wait_re "sample ([2-9]|[1-9][0-9]+)/"
snap 05-lag

keys 4
wait_for "TOP ERROR"
snap 06-dlq

keys Enter
wait_for "ORIGIN"
snap 07-dlq-groups

keys '?'
wait_for "any key closes this help"
snap 08-help

keys q   # closes the help
keys q   # asks: under --demo, quitting stops the demo
wait_for "quit? the demo stops with it"
snap 09-quit
keys y
deadline=$((SECONDS + 10))
until [ -s "$work/status" ]; do
	((SECONDS < deadline)) || { echo "tui-capture: eddy did not exit after q" >&2; exit 1; }
	sleep 0.1
done
status=$(cat "$work/status")
[ "$status" = 0 ] || { echo "tui-capture: eddy tui exited $status after q, want 0" >&2; exit 1; }
[ ! -s "$work/stdout" ] || { echo "tui-capture: eddy tui wrote to stdout" >&2; exit 1; }
if [ -n "$redirect" ]; then
	cp "$work/stderr" "$OUT/stderr.txt"
	! grep -q $'\x1b' "$work/stderr" || { echo "tui-capture: an escape sequence reached the stderr file" >&2; exit 1; }
	echo "stderr went to a file with no escape sequence"
fi
echo "eddy tui exited 0 after q; stdout stayed empty"
