#!/usr/bin/env bash
# dashboard-preview.sh: a picture of what monitoring/grafana/eddy-serve.json
# shows, made from the dashboard's own queries against a real Prometheus
# scraping a real `eddy serve` on the embedded demo. Not a Grafana screenshot:
# there is no Grafana here (Debian does not package it).
#
#   scripts/dashboard-preview.sh              # 10 minutes of traffic, then docs/img/dashboard.png
#   DURATION=8m OUT=/tmp/d.png scripts/dashboard-preview.sh
#
# Knobs: DURATION (default 10m), OUT (default docs/img/dashboard.png),
# PROMETHEUS (default $EDDY_TEST_PROMETHEUS, else prometheus on the PATH:
# Debian's package: `scripts/brokers.sh up prometheus` installs it),
# DEMO_ARGS (extra `eddy demo` flags, e.g. "--slow payments"),
# KEEP=1 (keep the work directory: logs, Prometheus's data).
#
# Everything listens on 127.0.0.1; only the processes started here are
# stopped on exit, by PID.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10m}
OUT=$(realpath -m "${OUT:-$root/docs/img/dashboard.png}")
PROMETHEUS=${PROMETHEUS:-${EDDY_TEST_PROMETHEUS:-$(command -v prometheus || true)}}
DEMO_ARGS=${DEMO_ARGS:-}
SCRAPE=5s

die() { echo "dashboard-preview: $*" >&2; exit 1; }
log() { echo "dashboard-preview: $*" >&2; }

[[ -x $PROMETHEUS ]] || die "no prometheus binary (set PROMETHEUS, or run scripts/brokers.sh up prometheus)"
secs=$(python3 -c 'import re,sys; m=re.fullmatch(r"(\d+)(s|m|h)", sys.argv[1]); print(int(m[1])*{"s":1,"m":60,"h":3600}[m[2]]) if m else sys.exit(1)' "$DURATION") ||
	die "DURATION=$DURATION: want a number and s, m or h (e.g. 10m)"

work=$(mktemp -d "${TMPDIR:-/tmp}/eddy-dashboard-preview.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ ${KEEP:-} == 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for DESC SECONDS CMD...: CMD until it succeeds, or fail after SECONDS.
wait_for() {
	local desc=$1 limit=$2 i
	shift 2
	for ((i = 0; i < limit * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	die "$desc not ready after ${limit}s (logs in $work; KEEP=1 keeps them)"
}

log "building eddy"
(cd "$root" && go build -o "$work/eddy" ./cmd/eddy)

# The demo writes its "demo" context into this throwaway config, not yours.
export EDDY_CONFIG=$work/config.yaml
# shellcheck disable=SC2086 # DEMO_ARGS is a list of flags
"$work/eddy" demo --port 0 $DEMO_ARGS >"$work/demo.log" 2>&1 &
pids+=($!)
wait_for "eddy demo" 60 grep -q 'demo' "$EDDY_CONFIG"

serve_port=$(freeport)
"$work/eddy" serve --context demo 'kafka:/.*/' \
	--flow shop \
	--expect 'ships-in-5s=OrderPlaced -> OrderShipped within 5s' \
	--expect 'paid-in-100ms=OrderPlaced -> PaymentAuthorized within 100ms' \
	--expect 'refunded-in-1h=RefundRequested -> RefundIssued within 1h' \
	--dlq kafka:payments.DLT --dlq kafka:inventory-dlq \
	--flow-timeout 15s --interval "$SCRAPE" \
	--listen "127.0.0.1:$serve_port" >"$work/serve.log" 2>&1 &
pids+=($!)
wait_for "eddy serve" 60 curl -fsS "http://127.0.0.1:$serve_port/readyz"

# Native histograms as the tests scrape them: the feature flag up to 3.8,
# scrape_native_histograms from 3.8 on.
native=""
if "$PROMETHEUS" --version 2>&1 | grep -Eq 'version (3\.([89]|[1-9][0-9])|[4-9])\.'; then
	native="    scrape_native_histograms: true"
fi
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: $SCRAPE
  evaluation_interval: $SCRAPE
scrape_configs:
  - job_name: eddy
$native
    static_configs:
      - targets: ["127.0.0.1:$serve_port"]
EOF
prom_port=$(freeport)
"$PROMETHEUS" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom-data" \
	--web.listen-address="127.0.0.1:$prom_port" --web.console.templates="$work" \
	--web.console.libraries="$work" --enable-feature=native-histograms --log.level=warn \
	>"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_for "prometheus" 60 curl -fsS "http://127.0.0.1:$prom_port/-/ready"
from=$(date -u +%s)
log "eddy serve on 127.0.0.1:$serve_port, Prometheus on 127.0.0.1:$prom_port; traffic for $DURATION"
sleep "$secs" # the traffic the picture shows: time is the point here
to=$(date -u +%s)

mkdir -p "$(dirname "$OUT")"
(cd "$root/scripts/dashboard-preview" && go build -o "$work/dashboard-preview" .)
# Relative to the repository: the caption names the dashboard by this path.
(cd "$root" && "$work/dashboard-preview" -dashboard monitoring/grafana/eddy-serve.json \
	-prometheus "http://127.0.0.1:$prom_port" -from "$from" -to "$to" -scrape-interval "$SCRAPE" \
	-source "eddy demo${DEMO_ARGS:+ $DEMO_ARGS} (embedded Kafka) → eddy serve → Prometheus $("$PROMETHEUS" --version 2>&1 | head -n1 | awk '{print $3}'), scrape every $SCRAPE" \
	-out "$OUT")
log "wrote $OUT ($(wc -c <"$OUT") bytes)"
