#!/usr/bin/env bash
# scripts/otelcol.sh — build (once, cached) the real OpenTelemetry Collector
# that trace's OTLP test exports into, and print its path:
#
#     export EDDY_TEST_OTELCOL=$(scripts/otelcol.sh)
#
# The collector is the upstream one (go.opentelemetry.io/collector: the OTLP
# receiver and the OTLP/HTTP exporter), assembled by testdata/trace/otelcol
# (main.go, with go.mod/go.sum pinning the versions), since upstream publishes
# no binary as a Go module. The cache is keyed by those files, so editing them
# rebuilds. Takes about two minutes the first time.
set -euo pipefail
cd "$(dirname "$0")/.."

src=testdata/trace/otelcol
key=$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-12)
CACHE=${EDDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eddy-tools}/otelcol-$key
bin="$CACHE/otelcol"
if [ ! -x "$bin" ]; then
	echo "otelcol: building the OpenTelemetry Collector into $CACHE" >&2
	mkdir -p "$CACHE/src"
	cp "$src/main.go" "$src/go.mod" "$src/go.sum" "$CACHE/src/"
	(cd "$CACHE/src" && GOFLAGS=-mod=readonly go build -trimpath -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
fi
echo "$bin"
