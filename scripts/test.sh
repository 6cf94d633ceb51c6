#!/usr/bin/env bash
# The test command (README: "Run the tests"): bring up a real RabbitMQ, Redis, a real
# Apache Kafka and Apicurio Registry on loopback, then run every test, race detector on, against them
# as well as against the in-process kfake cluster.
#
# Extra arguments go to `go test` (e.g. scripts/test.sh -run Tail ./cmd/...).
# EDDY_KEEP_BROKERS=1 leaves the brokers running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v kcat >/dev/null 2>&1 || need_apt+=(kcat)
# The completion scripts are loaded in each shell, the man pages rendered, the TUI run under tmux.
for p in zsh fish bash-completion man-db groff-base tmux; do dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p"); done
if ((${#need_apt[@]})); then
	echo "test: installing ${need_apt[*]} (interop, completion and man page tests)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
fi

env_file=$(mktemp)
scripts/brokers.sh up >"$env_file"
# shellcheck disable=SC1090
. "$env_file"
rm -f "$env_file"
if [ -z "${EDDY_KEEP_BROKERS:-}" ]; then
	trap 'scripts/brokers.sh down' EXIT
fi
# Tests that need a broker fail (not skip) without one when this is set.
export EDDY_REQUIRE_BROKERS=1
# A real OpenTelemetry Collector for trace's OTLP export test (built once).
EDDY_TEST_OTELCOL=$(scripts/otelcol.sh)
export EDDY_TEST_OTELCOL
# Confluent's Python client and serializers, for the schema interop test (a cached virtualenv).
EDDY_TEST_INTEROP_PYTHON=$(scripts/interop/venv.sh)
export EDDY_TEST_INTEROP_PYTHON
# AWS's own MSK IAM client (aws-msk-iam-auth, Maven Central) and the Java program that prints its
# AWS_MSK_IAM payload, for the payload interop test (cached; needs mvn and javac).
EDDY_TEST_MSK_IAM_CLASSPATH=$(scripts/interop/msk-iam.sh)
export EDDY_TEST_MSK_IAM_CLASSPATH

# cmd/eddy, the longest package, runs 16–20 minutes under -race on two cores
# (its real-Kafka tests share one broker): 20 minutes was too close.
args=("$@")
if ((${#args[@]})); then
	go test -race -count=1 -timeout 40m "${args[@]}"
	exit
fi
go test -race -count=1 -timeout 40m ./...
# The portable build of the envelope scanner (what other platforms run, and
# amd64 without AVX2): no line index, no assembly.
go test -count=1 -tags purego ./event ./trace
# The gen-docs build (cmd/eddy with -tags gendocs, what the release runs for
# the man pages and completions): its pages render without a groff warning.
go test -count=1 -tags gendocs -run 'TestGenDocs' ./cmd/eddy
