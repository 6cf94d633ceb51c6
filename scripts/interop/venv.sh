#!/usr/bin/env bash
# scripts/interop/venv.sh — create (once, cached) the virtualenv with Confluent's
# Python client (confluent-kafka and its Avro, Protobuf, JSON Schema serializers and
# Schema Registry client) that the interop test and bench/schema-tail.sh use, and
# print its python:
#
#     export EDDY_TEST_INTEROP_PYTHON=$(scripts/interop/venv.sh)
#
# The cache is keyed by requirements.txt (exact pins), so editing it makes a new one.
# About 25 seconds and 120 MB the first time.
set -euo pipefail
cd "$(dirname "$0")"

key=$(sha256sum requirements.txt | cut -c1-12)
CACHE=${EDDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eddy-brokers}
venv="$CACHE/py-interop-$key"
if [ ! -f "$venv/.complete" ]; then
	py=$(command -v python3) || { echo "interop: python3 (3.9+) is needed for Confluent's Python client" >&2; exit 1; }
	echo "interop: creating $venv (confluent-kafka from PyPI)" >&2
	rm -rf "$venv"
	"$py" -m venv "$venv" >&2
	"$venv/bin/pip" install -q --disable-pip-version-check -r requirements.txt >&2
	touch "$venv/.complete"
fi
echo "$venv/bin/python"
