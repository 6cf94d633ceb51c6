#!/usr/bin/env bash
# scripts/release-check.sh — the release build, checked: .ci/run calls it.
#
#   1. installs goreleaser $GORELEASER_VERSION with `go install` from the Go
#      module proxy, cached in ~/.cache/eddy-tools (a fresh machine pays the
#      build once; the time is printed);
#   2. goreleaser check (.goreleaser.yaml is valid and current);
#   3. a snapshot build: every target and archive (`goreleaser release
#      --snapshot`, the default), or with RELEASE_CHECK=single only this
#      machine's binary (`goreleaser build --snapshot --single-target`);
#   4. checks what came out: `eddy version` of the snapshot binary shows the
#      injected version, commit and date; binaries are static (CGO off); every
#      archive holds README.md, LICENSE, CHANGELOG.md, the man pages and the
#      four completion scripts; checksums.txt verifies.
set -euo pipefail
cd "$(dirname "$0")/.."

GORELEASER_VERSION=${GORELEASER_VERSION:-v2.15.1}
MODE=${RELEASE_CHECK:-full}
tools=${XDG_CACHE_HOME:-$HOME/.cache}/eddy-tools/goreleaser-$GORELEASER_VERSION
gr=$tools/goreleaser

log() { printf 'release-check: %s\n' "$*" >&2; }
die() { printf 'release-check: FAIL: %s\n' "$*" >&2; exit 1; }

if [ ! -x "$gr" ]; then
	log "installing goreleaser $GORELEASER_VERSION (go install, cached in $tools)"
	t0=$SECONDS
	GOFLAGS= GOBIN=$tools go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
	log "goreleaser installed in $((SECONDS - t0)) s"
fi
"$gr" --version 2>/dev/null | grep -m1 GitVersion >&2 || true

# goreleaser asks git for the remote's URL and, without one, drops the commit
# from a snapshot. A clone without a remote gets one for goreleaser's eyes
# only, through git's environment, leaving the repository's config alone.
if [ -z "$(git remote)" ]; then
	export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=remote.origin.url GIT_CONFIG_VALUE_0=https://github.com/eddy-sh/eddy
fi

log "goreleaser check"
"$gr" check

t0=$SECONDS
case "$MODE" in
full)
	log "goreleaser release --snapshot --clean (every target, archives, checksums)"
	"$gr" release --snapshot --clean >&2
	;;
single)
	log "goreleaser build --snapshot --clean --single-target"
	"$gr" build --snapshot --clean --single-target >&2
	;;
*) die "RELEASE_CHECK=$MODE: want full or single" ;;
esac
log "snapshot build took $((SECONDS - t0)) s"

want_version=$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' dist/metadata.json)
want_commit=$(git rev-parse HEAD)
[ -n "$want_version" ] || die "dist/metadata.json has no version"

goos=$(go env GOOS) goarch=$(go env GOARCH)
bin=$(find dist -path "*eddy_${goos}_${goarch}*" -type f -name eddy | head -n1)
[ -n "$bin" ] || die "no $goos/$goarch binary in dist/"
got=$("$bin" version)
log "$bin version: $got"
case "$got" in
"eddy $want_version (commit $want_commit, built "*) ;;
*) die "eddy version printed '$got', want 'eddy $want_version (commit $want_commit, built …)'" ;;
esac
case "$got" in
*"built unknown)") die "the build date was not injected: $got" ;;
esac
"$bin" --version | grep -qF "$want_version" || die "eddy --version does not show $want_version"

for b in $(find dist -type f \( -name eddy -o -name eddy.exe \)); do
	go version -m "$b" | grep -q 'CGO_ENABLED=0' || die "$b was not built with CGO_ENABLED=0"
done
log "binaries: $(find dist -type f \( -name eddy -o -name eddy.exe \) | wc -l), all CGO_ENABLED=0"

if [ "$MODE" = full ]; then
	n=0
	for a in dist/*.tar.gz dist/*.zip; do
		[ -e "$a" ] || continue
		n=$((n + 1))
		case "$a" in
		*.zip) list=$(unzip -Z1 "$a") ;;
		*) list=$(tar -tzf "$a") ;;
		esac
		for f in README.md LICENSE CHANGELOG.md man/man1/eddy.1 man/man1/eddy-tail.1 \
			completions/eddy.bash completions/_eddy completions/eddy.fish completions/eddy.ps1; do
			grep -qx "$f" <<<"$list" || die "$a lacks $f"
		done
		grep -Eqx 'eddy(\.exe)?' <<<"$list" || die "$a lacks the binary"
	done
	[ "$n" -eq 6 ] || die "want 6 archives (linux, darwin, windows x amd64, arm64), found $n"
	(cd dist && sha256sum --quiet -c checksums.txt) || die "checksums.txt does not verify"
	log "archives: $n, each with the binary, README, LICENSE, CHANGELOG, man pages and completions; checksums verify"
fi
log "ok"
