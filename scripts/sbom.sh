#!/usr/bin/env bash
# scripts/sbom.sh ARTIFACT DOCUMENT VERSION — the SBOM of one archive or
# package, for .goreleaser.yaml's sboms (run in dist/ with GOOS and GOARCH of
# the artifact): CycloneDX JSON by `cyclonedx-gomod bin` from the build info
# of the very binary the artifact carries, so it lists the modules linked into
# it, at the versions linked. (`cyclonedx-gomod app` reads the main module's
# version from git with go-git, which cannot read a `git worktree` checkout.)
set -euo pipefail
artifact=$1 document=$2 version=$3
: "${GOOS:?GOOS of $artifact}" "${GOARCH:?GOARCH of $artifact}"
bin=$(find . -path "./eddy_${GOOS}_${GOARCH}*" -type f \( -name eddy -o -name eddy.exe \) | head -n1)
[ -n "$bin" ] || {
	echo "sbom.sh: no $GOOS/$GOARCH eddy binary under $(pwd) for $artifact" >&2
	exit 1
}
exec cyclonedx-gomod bin -json -output "$document" -version "v$version" "$bin"
