#!/usr/bin/env bash
# scripts/image.sh — eddy's container image, built with ko, without Docker:
#
#   scripts/image.sh VERSION REVISION OUT.tar
#
# writes OUT.tar, an OCI image layout (an index of linux/amd64 and
# linux/arm64) that `crane push OUT.tar REF` (after `tar -x`), skopeo or
# `docker load` (per platform) take. scripts/release-check.sh runs it on the
# snapshot and inspects the result with crane.
#
# The base. gcr.io/distroless/static is what the image wants to sit on, but
# this project's machines reach no container registry (only package
# registries), so the base is built here FROM scratch with crane, holding
# what distroless/static gives a static Go binary and nothing else: /etc/passwd
# and /etc/group with root and nonroot (65532), the CA certificates of the
# build machine's ca-certificates package, /tmp (1777) and /home/nonroot. No
# shell, no package manager, no libc. ko takes its base from a registry, so
# the base is pushed to a registry that crane serves on loopback for the
# length of the build (in memory, gone after), and ko pushes eddy there too;
# the result is then pulled into the OCI layout.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 3 ] || {
	echo "usage: scripts/image.sh VERSION REVISION OUT.tar" >&2
	exit 2
}
version=$1 revision=$2 out=$3

CRANE_VERSION=${CRANE_VERSION:-v0.22.1}
KO_VERSION=${KO_VERSION:-v0.18.1}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/eddy-tools

log() { printf 'image: %s\n' "$*" >&2; }
die() {
	printf 'image: FAIL: %s\n' "$*" >&2
	exit 1
}
# tool NAME VERSION PACKAGE: the path of NAME, `go install`ed once into the cache.
tool() {
	local dir=$cache/$1-$2
	if [ ! -x "$dir/$1" ]; then
		log "installing $1 $2 (go install, cached in $dir)"
		GOFLAGS= GOBIN=$dir go install "$3@$2" >&2
	fi
	echo "$dir/$1"
}
crane=$(tool crane "$CRANE_VERSION" github.com/google/go-containerregistry/cmd/crane)
ko=$(tool ko "$KO_VERSION" github.com/google/ko)

work=$(mktemp -d)
reg_pid=
cleanup() {
	[ -z "$reg_pid" ] || kill "$reg_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# A registry on loopback, on a port the kernel picks (crane prints it).
"$crane" registry serve --address 127.0.0.1:0 >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do
	port=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$work/registry.log" | head -n1)
	[ -z "$port" ] || break
	kill -0 "$reg_pid" 2>/dev/null || die "crane registry serve ended: $(cat "$work/registry.log")"
	sleep 0.1
done
[ -n "${port:-}" ] || die "crane registry serve named no port: $(cat "$work/registry.log")"
reg=127.0.0.1:$port
log "registry on $reg (pid $reg_pid)"

# The base's one layer. Owned by root, as files from an image tar are; the
# nonroot home is 65532's.
certs=/etc/ssl/certs/ca-certificates.crt
[ -s "$certs" ] || die "no $certs: install Debian's ca-certificates"
root=$work/base
mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/home/nonroot"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
cp "$certs" "$root/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$root/tmp"
# Reproducible: fixed owners and times, sorted names.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$work/base.tar" etc tmp --no-recursion home
tar --sort=name --owner=65532 --group=65532 --numeric-owner --mtime=@0 -C "$root" -rf "$work/base.tar" home/nonroot

base=$reg/base
for p in linux/amd64 linux/arm64; do
	"$crane" append --oci-empty-base -f "$work/base.tar" -t "$base:${p#linux/}-layer" >/dev/null
	"$crane" mutate "$base:${p#linux/}-layer" --set-platform "$p" --user 65532:65532 \
		-e SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt -t "$base:${p#linux/}" >/dev/null
done
"$crane" index append -m "$base:amd64" -m "$base:arm64" -t "$base:latest" >/dev/null
log "base (scratch + passwd, group, CA certificates, /tmp): $base:latest"

# ko builds with the release's flags; its config file says so for ko.
created=$(git log -1 --format=%cI "$revision" 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
cat >"$work/ko.yaml" <<EOF
defaultBaseImage: $base:latest
defaultPlatforms: [linux/amd64, linux/arm64]
builds:
  - id: eddy
    main: ./cmd/eddy
    env: [CGO_ENABLED=0]
    flags: [-trimpath, -tags=grpcnotrace]
    ldflags:
      - -s -w -X main.version=$version -X main.commit=$revision -X main.date=$created
EOF
src=https://github.com/eddy-sh/eddy
labels=(
	--image-label "org.opencontainers.image.title=eddy"
	--image-label "org.opencontainers.image.description=CLI and TUI for Kafka and RabbitMQ"
	--image-label "org.opencontainers.image.source=$src"
	--image-label "org.opencontainers.image.url=$src"
	--image-label "org.opencontainers.image.version=$version"
	--image-label "org.opencontainers.image.revision=$revision"
	--image-label "org.opencontainers.image.created=$created"
	--image-label "org.opencontainers.image.licenses=Apache-2.0"
)
t0=$SECONDS
ref=$(KO_CONFIG_PATH=$work/ko.yaml KO_DOCKER_REPO=$reg/eddy SOURCE_DATE_EPOCH=$(date -d "$created" +%s) \
	"$ko" build ./cmd/eddy --bare --tags "${version//+/-}" --sbom none --image-user 65532:65532 "${labels[@]}")
log "ko built $ref in $((SECONDS - t0)) s"

rm -rf "$work/layout"
"$crane" pull --format oci "$ref" "$work/layout"
# ko names the base by where it pulled it from: the loopback registry of
# this build, gone when it ends. The manifests keep the base's digest (the
# base is reproducible) and drop the name; their digests change with it.
python3 - "$work/layout" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
blobs = os.path.join(root, "blobs", "sha256")
def fix(desc):
    if not desc["mediaType"].endswith(("manifest.v1+json", "index.v1+json")):
        return desc
    path = os.path.join(blobs, desc["digest"].split(":")[1])
    m = json.load(open(path))
    m["manifests"] = [fix(c) for c in m.get("manifests", [])] if "manifests" in m else None
    if m["manifests"] is None:
        del m["manifests"]
    m.get("annotations", {}).pop("org.opencontainers.image.base.name", None)
    data = json.dumps(m, separators=(",", ":")).encode()
    digest = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, digest), "wb").write(data)
    if os.path.basename(path) != digest:
        os.remove(path)
    desc = dict(desc, digest="sha256:" + digest, size=len(data))
    desc.get("annotations", {}).pop("org.opencontainers.image.base.name", None)
    return desc
idx = json.load(open(os.path.join(root, "index.json")))
idx["manifests"] = [fix(d) for d in idx["manifests"]]
json.dump(idx, open(os.path.join(root, "index.json"), "w"), indent=3)
PY
mkdir -p "$(dirname "$out")"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/layout" -cf "$out" .
log "wrote $out ($(du -h "$out" | cut -f1)): an OCI layout of $ref"
