#!/bin/sh
# install.sh — install eddy from its release archives, for `curl | sh` users:
#
#   curl -fsSL https://raw.githubusercontent.com/eddy-sh/eddy/main/scripts/install.sh | sh
#   curl -fsSL .../install.sh | sh -s -- -b ~/.local/bin -v 0.9.0
#
# It downloads the archive for this machine (linux or darwin, amd64 or arm64)
# and checksums.txt from the same release, checks the archive's SHA-256
# against checksums.txt BEFORE unpacking anything, and only then installs the
# binary (and, with -m, the man pages). A mismatch installs nothing and exits
# 1. With gpg on PATH and EDDY_VERIFY_KEY naming a key in the keyring,
# checksums.txt.asc is verified too.
#
# Options (or the environment variable beside each):
#   -b DIR   where the binary goes            EDDY_INSTALL_DIR  (default /usr/local/bin,
#                                              ~/.local/bin when that is not writable)
#   -v VER   the release, without the v       EDDY_VERSION      (default: the latest)
#   -m DIR   also install man pages to DIR/man1                 (default: none)
#   -u URL   where the release's files are    EDDY_DOWNLOAD_URL (default: the GitHub
#            (http(s):// or file://)                             release of VER)
set -eu

repo=eddy-sh/eddy
dir=${EDDY_INSTALL_DIR:-}
version=${EDDY_VERSION:-}
base=${EDDY_DOWNLOAD_URL:-}
mandir=

say() { printf 'eddy install: %s\n' "$*" >&2; }
die() {
	printf 'eddy install: error: %s\n' "$*" >&2
	exit 1
}
usage() {
	sed -n '2,/^set -eu/p' "$0" 2>/dev/null | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//' >&2 || true
	exit 2
}

while getopts "b:v:m:u:h" opt; do
	case $opt in
	b) dir=$OPTARG ;;
	v) version=${OPTARG#v} ;;
	m) mandir=$OPTARG ;;
	u) base=$OPTARG ;;
	*) usage ;;
	esac
done

case $(uname -s) in
Linux) os=linux ;;
Darwin) os=darwin ;;
*) die "no release archive for $(uname -s): use the .zip from the releases page, Scoop, or go install" ;;
esac
case $(uname -m) in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*) die "no release archive for $(uname -m) (amd64 and arm64 only)" ;;
esac

if command -v curl >/dev/null 2>&1; then
	fetch() { curl -fsSL --proto '=https,http,file' -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
	fetch() { wget -q -O "$2" "$1"; }
else
	die "need curl or wget"
fi
if command -v sha256sum >/dev/null 2>&1; then
	sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
	sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
	die "need sha256sum or shasum to verify the download"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ -z "$version" ]; then
	[ -z "$base" ] || die "-u needs -v (the version of the files there)"
	fetch "https://api.github.com/repos/$repo/releases/latest" "$tmp/latest.json" ||
		die "could not ask GitHub for the latest release: give one with -v"
	version=$(sed -n 's/.*"tag_name": *"v\{0,1\}\([^"]*\)".*/\1/p' "$tmp/latest.json" | head -n1)
	[ -n "$version" ] || die "GitHub's answer names no release: give one with -v"
fi
[ -n "$base" ] || base="https://github.com/$repo/releases/download/v$version"
base=${base%/}

archive="eddy_${version}_${os}_${arch}.tar.gz"
say "downloading $archive and checksums.txt from $base"
fetch "$base/checksums.txt" "$tmp/checksums.txt" || die "could not download $base/checksums.txt"
fetch "$base/$archive" "$tmp/$archive" || die "could not download $base/$archive"

if [ -n "${EDDY_VERIFY_KEY:-}" ]; then
	command -v gpg >/dev/null 2>&1 || die "EDDY_VERIFY_KEY is set but gpg is not on PATH"
	fetch "$base/checksums.txt.asc" "$tmp/checksums.txt.asc" || die "could not download $base/checksums.txt.asc"
	gpg --batch --quiet --trusted-key "$EDDY_VERIFY_KEY" --verify "$tmp/checksums.txt.asc" "$tmp/checksums.txt" 2>/dev/null ||
		die "checksums.txt.asc is not a good signature by $EDDY_VERIFY_KEY: nothing installed"
	say "checksums.txt: good signature by $EDDY_VERIFY_KEY"
fi

want=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$tmp/checksums.txt")
[ -n "$want" ] || die "checksums.txt lists no $archive: nothing installed"
got=$(sha256 "$tmp/$archive")
[ "$got" = "$want" ] || die "$archive: SHA-256 $got, but checksums.txt says $want: nothing installed"
say "checksum verified ($got)"

mkdir "$tmp/x"
tar -xzf "$tmp/$archive" -C "$tmp/x" eddy $([ -n "$mandir" ] && echo man) || die "$archive: could not unpack"

if [ -z "$dir" ]; then
	dir=/usr/local/bin
	if [ ! -w "$dir" ]; then
		dir=$HOME/.local/bin
	fi
fi
mkdir -p "$dir" || die "cannot create $dir"
# Into place by rename: a running eddy keeps its old file.
cp "$tmp/x/eddy" "$dir/.eddy.new" && chmod 0755 "$dir/.eddy.new" && mv -f "$dir/.eddy.new" "$dir/eddy" ||
	die "cannot write $dir/eddy (try -b DIR, or sudo)"
say "installed $dir/eddy ($("$dir/eddy" --version 2>/dev/null || echo "eddy $version"))"
if [ -n "$mandir" ]; then
	mkdir -p "$mandir/man1" && cp "$tmp"/x/man/man1/*.1 "$mandir/man1/" || die "cannot write man pages to $mandir/man1"
	say "man pages in $mandir/man1"
fi
case ":$PATH:" in
*":$dir:"*) ;;
*) say "$dir is not on your PATH: add it, or run $dir/eddy" ;;
esac
