#!/usr/bin/env bash
# scripts/readme-examples.sh — the README's examples, run for real against
# `eddy demo`, so what the README shows is what eddy prints.
#
#   scripts/readme-examples.sh           rewrite README.md's example blocks with fresh output
#   scripts/readme-examples.sh --check   run every example; fail if one fails (exit code
#                                        other than its marker's) or prints nothing;
#                                        README.md is left alone (CI runs this)
#
# An example block in README.md is a marker comment, a fenced block and an end
# marker:
#
#   <!-- example: eddy ls --context demo -o table -->
#   ```text
#   $ eddy ls --context demo -o table
#   (the output)
#   ```
#   <!-- /example -->
#
# The marker holds the command (run by bash, eddy on PATH, in a fresh config
# whose current context is the demo). It may use {ORDER} (an order that went
# all the way through the shop), {FAILED} (an order whose payment was
# dead-lettered) and {EVENT} (the id of that order's OrderPlaced event), which
# are replaced by real ids from the running demo; {AVRO_BROKERS},
# {AVRO_REGISTRY} and {AVRO_ORDER} are a second demo's Kafka, Schema Registry
# and a shipped order (`eddy demo --format avro`, asked for ports 9093 and
# 8082, with a config of its own so it leaves the first one's context alone).
# It may end in "exit=N" (or
# "exit=N,M") for the exit codes that are right (default 0) and "lines=N" to
# keep only the first N lines of output (default 20). Commands run in the order
# of the README, in an empty scratch directory; each gets 60 s.
#
# The demo's data is live (order ids, times, counts change every run), so the
# check is that every example runs and prints, not that its text is equal.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=write
[ "${1:-}" = "--check" ] && mode=check

work=$(mktemp -d)
demo_pid=
avro_pid=
cleanup() {
	for pid in $demo_pid $avro_pid; do
		kill -INT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/bin/eddy" ./cmd/eddy
export PATH="$work/bin:$PATH"
export XDG_CONFIG_HOME=$work/config XDG_STATE_HOME=$work/state HOME=$work/home
export COLUMNS=120 NO_COLOR=1
unset EDDY_BROKERS EDDY_AMQP_URL EDDY_AMQP_MGMT_URL EDDY_CONTEXT EDDY_CONFIG
mkdir -p "$HOME"

# The demo with payments slowed down, so lag has something to show; any free port.
eddy demo --port 0 --slow payments >"$work/demo.out" 2>&1 &
demo_pid=$!
# The same shop with Avro values through the demo's in-process registry.
mkdir -p "$work/avro-config"
XDG_CONFIG_HOME=$work/avro-config eddy demo --format avro --port 9093 --registry-port 8082 >"$work/avro.out" 2>&1 &
avro_pid=$!

# wait_until DESC SECONDS CMD...: poll a condition with a deadline.
wait_until() {
	local desc=$1 secs=$2; shift 2
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			echo "readme-examples: timed out after ${secs}s waiting for $desc" >&2
			cat "$work/demo.out" >&2
			exit 1
		fi
		kill -0 "$demo_pid" 2>/dev/null || { echo "readme-examples: eddy demo exited" >&2; cat "$work/demo.out" >&2; exit 1; }
		[ -z "$avro_pid" ] || kill -0 "$avro_pid" 2>/dev/null || { echo "readme-examples: eddy demo --format avro exited" >&2; cat "$work/avro.out" >&2; exit 1; }
		sleep 0.5
	done
}
wait_until "the demo's context" 60 grep -q 'context "demo" written' "$work/demo.out"
eddy config use demo 2>/dev/null

# Enough history for every example: dead letters on both DLQs, flows that
# reached the last service.
enough() {
	local out
	out=$(eddy dlq ls -o tsv) || return 1
	awk -F'\t' '$1 ~ /payments.DLT$/ && $2 >= 3 {p=1} $1 ~ /inventory-dlq$/ && $2 >= 1 {i=1} END {exit !(p && i)}' <<<"$out" || return 1
	[ -n "$(eddy tail kafka:notifications --from beginning --until end -n 1 -o 'template={{.Key}}')" ]
}
wait_until "dead letters and complete flows in the demo" 120 enough

order=$(eddy tail kafka:notifications --from beginning --until end -n 1 -o 'template={{.Key}}')
# A payment failure: a PaymentFailed or OrderPlaced copy on the DLT, keyed by its order.
failed=$(eddy tail kafka:payments.DLT --from beginning --until end -n 1 -o 'template={{.Key}}')
event=$(eddy tail kafka:orders --from beginning --until end --filter "key == \"$failed\"" -n 1 -o 'template={{.ID}}')
[ -n "$order" ] && [ -n "$failed" ] && [ -n "$event" ] || { echo "readme-examples: no ids from the demo (order=$order failed=$failed event=$event)" >&2; exit 1; }
echo "readme-examples: demo up; ORDER=$order FAILED=$failed EVENT=$event" >&2

wait_until "the Avro demo" 60 grep -q 'context "demo" written' "$work/avro.out"
avro_brokers=$(sed -n 's/^eddy demo: Kafka on \([^ ]*\) .*/\1/p' "$work/avro.out" | head -1)
avro_registry=$(sed -n 's/.*Schema Registry at \(http[^ ]*\) .*/\1/p' "$work/avro.out" | head -1)
[ -n "$avro_brokers" ] && [ -n "$avro_registry" ] || { echo "readme-examples: no addresses from the Avro demo" >&2; cat "$work/avro.out" >&2; exit 1; }
avro_flags=(--brokers "$avro_brokers" --schema-registry "$avro_registry")
avro_shipped() { [ -n "$(eddy tail kafka:notifications "${avro_flags[@]}" --from beginning --until end -n 1 -o 'template={{.Key}}')" ]; }
wait_until "a shipped order in the Avro demo" 120 avro_shipped
avro_order=$(eddy tail kafka:notifications "${avro_flags[@]}" --from beginning --until end -n 1 -o 'template={{.Key}}')
echo "readme-examples: Avro demo up on $avro_brokers, $avro_registry; AVRO_ORDER=$avro_order" >&2

mkdir -p "$work/scratch"
SCRATCH=$work/scratch ORDER=$order FAILED=$failed EVENT=$event MODE=$mode \
	AVRO_BROKERS=$avro_brokers AVRO_REGISTRY=$avro_registry AVRO_ORDER=$avro_order python3 - "${README_FILE:-README.md}" <<'PY'
import os, re, subprocess, sys

path = sys.argv[1]
text = open(path, encoding="utf-8").read()
subs = {k: os.environ[k[1:-1]] for k in ("{ORDER}", "{FAILED}", "{EVENT}", "{AVRO_BROKERS}", "{AVRO_REGISTRY}", "{AVRO_ORDER}")}
block = re.compile(r"<!-- example: (?P<spec>.*?) -->\n(?P<body>.*?)<!-- /example -->", re.S)
failures, n = [], 0

def run(m):
    global n
    n += 1
    spec = m.group("spec").strip()
    want, keep = [0], 20
    while True:
        opt = re.search(r"\s+(exit|lines)=([\d,]+)$", spec)
        if not opt:
            break
        if opt.group(1) == "exit":
            want = [int(x) for x in opt.group(2).split(",")]
        else:
            keep = int(opt.group(2))
        spec = spec[:opt.start()]
    cmd = spec
    for k, v in subs.items():
        cmd = cmd.replace(k, v)
    try:
        p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=60, cwd=os.environ["SCRATCH"])
        code, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        code, out = "timeout", ""
    lines = out.rstrip("\n").split("\n") if out.strip() else []
    status = "ok"
    if code not in want:
        status = f"exit {code}, want {'/'.join(map(str, want))}"
    elif not lines:
        status = "printed nothing"
    print(f"readme-examples: {status:>16}  {cmd}", file=sys.stderr)
    if status != "ok":
        failures.append(f"{cmd}: {status}\n" + "\n".join(lines[-10:]))
        return m.group(0)
    if len(lines) > keep:
        lines = lines[:keep] + ["…"]
    shown = "\n".join(["$ " + cmd] + lines)
    return f"<!-- example: {m.group('spec').strip()} -->\n```text\n{shown}\n```\n<!-- /example -->"

new = block.sub(run, text)
if n == 0:
    failures.append("README.md has no <!-- example: … --> blocks")
if failures:
    print("readme-examples: FAILED\n" + "\n\n".join(failures), file=sys.stderr)
    sys.exit(1)
if os.environ["MODE"] == "write":
    open(path, "w", encoding="utf-8").write(new)
    print(f"readme-examples: rewrote {n} example(s) in {path}", file=sys.stderr)
else:
    print(f"readme-examples: {n} example(s) ran", file=sys.stderr)
PY
