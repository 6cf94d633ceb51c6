#!/usr/bin/env bash
# scripts/interop/msk-iam.sh — fetch (once, cached) AWS's MSK IAM client library
# (software.amazon.msk:aws-msk-iam-auth, Maven Central) with its run-time
# dependencies, compile msk-iam/MskIamPayload.java against it, and print the
# Java class path that runs it:
#
#     export EDDY_TEST_MSK_IAM_CLASSPATH=$(scripts/interop/msk-iam.sh)
#
# bus/kafka's AWS_MSK_IAM interop test runs it to compare eddy's SASL payload
# with the library's. The cache is keyed by the pom and the program, so editing
# either makes a new one. About 20 seconds and 10 MB the first time.
set -euo pipefail
cd "$(dirname "$0")/msk-iam"

key=$(cat pom.xml MskIamPayload.java | sha256sum | cut -c1-12)
CACHE=${EDDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eddy-brokers}
dir="$CACHE/msk-iam-$key"
if [ ! -f "$dir/.complete" ]; then
	command -v mvn >/dev/null || { echo "msk-iam: mvn is needed to fetch aws-msk-iam-auth from Maven Central" >&2; exit 1; }
	command -v javac >/dev/null || { echo "msk-iam: javac (a JDK, 11+) is needed to compile MskIamPayload.java" >&2; exit 1; }
	echo "msk-iam: fetching software.amazon.msk:aws-msk-iam-auth into $dir" >&2
	rm -rf "$dir"
	mkdir -p "$dir/libs" "$dir/classes"
	mvn -q -B -f pom.xml dependency:copy-dependencies -DoutputDirectory="$dir/libs" -DincludeScope=runtime >&2 ||
		{ echo "msk-iam: mvn could not fetch software.amazon.msk:aws-msk-iam-auth" >&2; exit 1; }
	javac -nowarn -d "$dir/classes" -cp "$dir/libs/*" MskIamPayload.java >&2
	touch "$dir/.complete"
fi
echo "$dir/classes:$dir/libs/*"
