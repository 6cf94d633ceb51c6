#!/usr/bin/env bash
# scripts/release-check-full.sh VERSION COMMIT CRANE KUBECONFORM — the checks of
# a full snapshot release in dist/ beyond the archives: signature, packages
# (and the .deb installed), SBOMs, the Homebrew cask and Scoop manifest,
# scripts/install.sh, the container image and deploy/. scripts/release-check.sh
# runs it after `goreleaser release --snapshot`; its header says what each
# check holds. Needs root (dpkg -i) and GNUPGHOME/EDDY_SIGNING_KEY from there.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$1 commit=$2 crane=$3 kubeconform=$4

log() { printf 'release-check: %s\n' "$*" >&2; }
die() {
	printf 'release-check: FAIL: %s\n' "$*" >&2
	exit 1
}

work=$(mktemp -d)
pids=()
deb_installed=
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "$deb_installed" ]; then dpkg -r eddy >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

# checksum FILE: its SHA-256 as checksums.txt lists it.
checksum() { awk -v f="$1" '$2 == f { print $1 }' dist/checksums.txt; }

# --- the signature --------------------------------------------------------
[ -s dist/checksums.txt.asc ] || die "no dist/checksums.txt.asc (signs:)"
gpg --batch --quiet --verify dist/checksums.txt.asc dist/checksums.txt 2>"$work/gpg.out" ||
	die "checksums.txt.asc does not verify: $(cat "$work/gpg.out")"
grep -q "$EDDY_SIGNING_KEY" "$work/gpg.out" || die "checksums.txt.asc is not by $EDDY_SIGNING_KEY: $(cat "$work/gpg.out")"
sed '1s/^./x/' dist/checksums.txt >"$work/checksums.txt"
if gpg --batch --quiet --verify dist/checksums.txt.asc "$work/checksums.txt" 2>/dev/null; then
	die "the signature verifies a changed checksums.txt"
fi
log "signature: checksums.txt.asc verifies (key $EDDY_SIGNING_KEY) and rejects a changed checksums.txt"

# --- packages -------------------------------------------------------------
common=(usr/bin/eddy usr/share/man/man1/eddy.1 usr/share/man/man1/eddy-tail.1
	usr/share/bash-completion/completions/eddy usr/share/fish/vendor_completions.d/eddy.fish)
for arch in amd64 arm64; do
	deb=(dist/eddy_*_"$arch".deb)
	[ -f "${deb[0]}" ] || die "no $arch .deb in dist/"
	list=$(dpkg-deb -c "${deb[0]}" | awk '{ print $6 }' | sed 's#^\./##')
	for f in "${common[@]}" usr/share/zsh/vendor-completions/_eddy usr/share/doc/eddy/copyright; do
		grep -qx "$f" <<<"$list" || die "${deb[0]} lacks /$f"
	done
	case $arch in amd64) a=x86_64 ;; arm64) a=aarch64 ;; esac
	apk=(dist/eddy_*_"$a".apk)
	[ -f "${apk[0]}" ] || die "no $arch .apk in dist/"
	# An apk is gzip'd tar streams one after another (signature, control, data).
	list=$(gzip -dc "${apk[0]}" | tar -ti 2>/dev/null)
	for f in "${common[@]}" usr/share/zsh/site-functions/_eddy; do
		grep -qx "$f" <<<"$list" || die "${apk[0]} lacks /$f"
	done
	rpm=(dist/eddy-*."$a".rpm)
	[ -f "${rpm[0]}" ] || die "no $arch .rpm in dist/"
	# No rpm tools on Debian: the lead (magic) and the payload's file names
	# (cpio headers, stored as plain text inside the compressed payload are
	# not; the names are also in the header, uncompressed).
	[ "$(head -c4 "${rpm[0]}" | od -An -tx1 | tr -d ' ')" = edabeedb ] || die "${rpm[0]} is not an RPM"
	for f in eddy eddy-tail.1 _eddy eddy.fish; do
		grep -qaF "$f" "${rpm[0]}" || die "${rpm[0]}'s header names no $f"
	done
done
log "packages: deb, rpm, apk for amd64 and arm64, each with the binary, man pages and bash/zsh/fish completions"

if dpkg -s eddy >/dev/null 2>&1; then
	die "a package named eddy is already installed on this machine: not replacing it (dpkg -r eddy first)"
fi
need=()
command -v zsh >/dev/null || need+=(zsh)
command -v fish >/dev/null || need+=(fish)
command -v man >/dev/null || need+=(man-db)
[ -f /usr/share/bash-completion/bash_completion ] || need+=(bash-completion)
if ((${#need[@]})); then
	log "apt-get install ${need[*]} (for the .deb check)"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
deb=(dist/eddy_*_"$(dpkg --print-architecture)".deb)
deb_installed=1
dpkg -i "${deb[0]}" >&2 || die "dpkg -i ${deb[0]} failed"
got=$(/usr/bin/eddy version)
[[ $got == "eddy $version (commit $commit, "* ]] || die "installed eddy version: $got"
page=$(man -w eddy-tail) || die "man -w eddy-tail found no page"
[ "$page" = /usr/share/man/man1/eddy-tail.1 ] || die "man -w eddy-tail: $page, want the package's /usr/share/man/man1/eddy-tail.1"
# bash: bash-completion's loader finds the script on first use.
words=$(env -i PATH=/usr/bin:/bin HOME="$work" bash --norc --noprofile -c '
	source /usr/share/bash-completion/bash_completion
	if declare -F _comp_load >/dev/null; then _comp_load eddy; else __load_completion eddy; fi
	fn=$(complete -p eddy | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
	[ -n "$fn" ] || exit 1
	COMP_WORDS=(eddy ta); COMP_CWORD=1; COMP_LINE="eddy ta"; COMP_POINT=${#COMP_LINE}
	"$fn" eddy ta eddy
	printf "%s\n" "${COMPREPLY[@]}"') || die "bash found no completion for eddy"
grep -q '^tail' <<<"$words" || die "bash completes 'eddy ta' to: $words"
# zsh: compinit maps eddy to _eddy from the fpath directory the package used.
got=$(env -i PATH=/usr/bin:/bin HOME="$work" zsh -fc '
	autoload -Uz compinit && compinit -u -D
	print -r -- "$_comps[eddy]"
	print -rl -- ${^fpath}/_eddy(N)') || die "zsh: compinit failed"
grep -qx _eddy <<<"$got" || die "zsh maps eddy to no completion function: $got"
grep -qx /usr/share/zsh/vendor-completions/_eddy <<<"$got" || die "zsh does not find the package's _eddy: $got"
# fish: autoloads vendor_completions.d/eddy.fish, which asks eddy itself.
words=$(env -i PATH=/usr/bin:/bin HOME="$work" fish -c 'complete -C "eddy ta"') || die "fish: complete -C failed"
grep -q '^tail' <<<"$words" || die "fish completes 'eddy ta' to: $words"
dpkg -r eddy >&2 || die "dpkg -r eddy failed"
deb_installed=
for f in /usr/bin/eddy /usr/share/man/man1/eddy-tail.1 /usr/share/zsh/vendor-completions/_eddy; do
	[ ! -e "$f" ] || die "$f is still there after dpkg -r eddy"
done
log "deb: dpkg -i, eddy version, man -w eddy-tail, bash/zsh/fish complete 'eddy ta' to tail; dpkg -r leaves nothing"

# --- SBOMs ----------------------------------------------------------------
# The direct requirements of go.mod that the binary (of that GOOS/GOARCH) links.
direct() {
	comm -12 \
		<(GOOS=$1 GOARCH=$2 go list -deps -tags grpcnotrace -f '{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}' ./cmd/eddy | sort -u) \
		<(go mod edit -json | python3 -c 'import json,sys; print("\n".join(r["Path"] for r in json.load(sys.stdin)["Require"] if not r.get("Indirect")))' | sort -u)
}
n=0
for f in dist/*.tar.gz dist/*.zip dist/*.deb dist/*.rpm dist/*.apk; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	sbom=$f.cdx.json
	[ -s "$sbom" ] || die "no SBOM $sbom"
	[ -n "$(checksum "$(basename "$sbom")")" ] || die "checksums.txt does not list $(basename "$sbom")"
	case $f in
	*linux*amd64* | *_amd64.deb | *x86_64*) os=linux arch=amd64 ;;
	*linux*arm64* | *_arm64.deb | *aarch64*) os=linux arch=arm64 ;;
	*darwin_amd64*) os=darwin arch=amd64 ;;
	*darwin_arm64*) os=darwin arch=arm64 ;;
	*windows_amd64*) os=windows arch=amd64 ;;
	*windows_arm64*) os=windows arch=arm64 ;;
	*) die "$f: which platform?" ;;
	esac
	[ -s "$work/direct-$os-$arch" ] || direct $os $arch >"$work/direct-$os-$arch"
	python3 - "$sbom" "$work/direct-$os-$arch" <<'EOF' || die "$sbom: see above"
import json, sys
doc = json.load(open(sys.argv[1]))
if doc.get("bomFormat") != "CycloneDX":
    sys.exit(f"{sys.argv[1]}: not CycloneDX")
purls = [c.get("purl", "") for c in doc.get("components", [])]
missing = [m for m in open(sys.argv[2]).read().split() if not any(p.startswith(f"pkg:golang/{m}@") for p in purls)]
if missing:
    sys.exit(f"{sys.argv[1]}: lists no {', '.join(missing)}")
EOF
done
[ "$n" -eq 12 ] || die "want 12 archives and packages with SBOMs, found $n"
log "SBOMs: $n (CycloneDX), each listing every direct dependency its binary links ($(wc -l <"$work/direct-linux-amd64") for linux/amd64)"

# --- Homebrew cask and Scoop manifest --------------------------------------
cask=$(find dist -path '*Casks/eddy.rb' | head -n1)
[ -n "$cask" ] || die "no Homebrew cask (Casks/eddy.rb) in dist/"
scoop=$(find dist -name eddy.json -path '*scoop*' | head -n1)
[ -n "$scoop" ] || die "no Scoop manifest (eddy.json) in dist/"
tag=$(python3 -c 'import json; print(json.load(open("dist/metadata.json"))["tag"])')
mans=$(ls build/docs/man/*.1 | wc -l)
python3 - "$cask" "$scoop" "$version" dist/checksums.txt "$tag" "$mans" <<'EOF' || die "cask/scoop: see above"
import json, re, sys
cask, scoop, version, sums, tag, mans = sys.argv[1:]
want = dict(reversed(l.split()) for l in open(sums) if l.strip())
rb = open(cask).read()
bad = []
pairs = re.findall(r'url "([^"]+)"(?:(?!url ").)*?sha256 "([0-9a-f]{64})"', rb, re.S)
seen = {}
base = f"https://github.com/eddy-sh/eddy/releases/download/{tag}/"
for url, sha in pairs:
    url = url.replace("#{version}", version)
    name = url.rsplit("/", 1)[-1]
    if url != base + name:
        bad.append(f"cask url {url} is not under the release's {base}")
    if want.get(name) != sha:
        bad.append(f"cask sha256 of {name} is {sha}, checksums.txt says {want.get(name)}")
    seen[name] = sha
for plat in ["darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64"]:
    if f"eddy_{version}_{plat}.tar.gz" not in seen:
        bad.append(f"cask has no {plat} archive")
if rb.count('manpage "man/man1/') != int(mans):
    bad.append(f"cask installs {rb.count('manpage')} man pages, the archives hold {mans}")
for stanza in [f'version "{version}"', 'binary "eddy"', 'manpage "man/man1/eddy.1"',
               'bash_completion "completions/eddy.bash"', 'zsh_completion "completions/_eddy"',
               'fish_completion "completions/eddy.fish"', 'homepage "https://github.com/eddy-sh/eddy"']:
    if stanza not in rb:
        bad.append(f"cask lacks {stanza}")
m = json.load(open(scoop))
if m.get("version") != version:
    bad.append(f"scoop version {m.get('version')}")
for key, plat in [("64bit", "windows_amd64"), ("arm64", "windows_arm64")]:
    a = m.get("architecture", {}).get(key, {})
    name = f"eddy_{version}_{plat}.zip"
    if a.get("url") != base + name:
        bad.append(f"scoop {key} url {a.get('url')}")
    if a.get("hash") != want.get(name):
        bad.append(f"scoop {key} hash {a.get('hash')}, checksums.txt says {want.get(name)}")
    if "eddy.exe" not in json.dumps(a.get("bin", m.get("bin"))):
        bad.append(f"scoop {key} installs no eddy.exe")
if bad:
    sys.exit("\n".join(bad))
EOF
if command -v ruby >/dev/null; then ruby -c "$cask" >/dev/null || die "$cask is not valid Ruby"; fi
log "cask ($cask) and Scoop manifest ($scoop): every platform's URL and checksum match checksums.txt; binary, man page, completions"

# --- scripts/install.sh -----------------------------------------------------
python3 -m http.server --bind 127.0.0.1 --directory dist 0 >"$work/http.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/http.log" | head -n1)
	[ -z "$port" ] || break
	sleep 0.1
done
[ -n "${port:-}" ] || die "python3 -m http.server did not start: $(cat "$work/http.log")"
sh scripts/install.sh -v "$version" -u "http://127.0.0.1:$port" -b "$work/bin" -m "$work/man" 2>"$work/install.out" ||
	die "install.sh failed: $(cat "$work/install.out")"
grep -q "checksum verified" "$work/install.out" || die "install.sh did not say it verified the checksum: $(cat "$work/install.out")"
[[ $("$work/bin/eddy" version) == "eddy $version "* ]] || die "install.sh installed a wrong eddy"
[ -f "$work/man/man1/eddy-tail.1" ] || die "install.sh -m installed no man pages"
EDDY_VERIFY_KEY=$EDDY_SIGNING_KEY sh scripts/install.sh -v "$version" -u "http://127.0.0.1:$port" -b "$work/bin-signed" 2>"$work/install.out" ||
	die "install.sh with EDDY_VERIFY_KEY failed: $(cat "$work/install.out")"
grep -q "good signature" "$work/install.out" || die "install.sh did not check the signature: $(cat "$work/install.out")"
# A corrupted archive (served from a directory, file://) installs nothing.
mkdir "$work/bad"
a=eddy_${version}_linux_$(go env GOARCH).tar.gz
cp dist/checksums.txt "$work/bad/"
cp "dist/$a" "$work/bad/"
printf x >>"$work/bad/$a"
if sh scripts/install.sh -v "$version" -u "file://$work/bad" -b "$work/bin-bad" 2>"$work/install.out"; then
	die "install.sh installed a corrupted archive"
fi
grep -q "nothing installed" "$work/install.out" || die "install.sh on a corrupted archive said: $(cat "$work/install.out")"
[ ! -e "$work/bin-bad/eddy" ] || die "install.sh left an eddy from a corrupted archive"
log "install.sh: installs from the snapshot over HTTP (checksum, and signature with EDDY_VERIFY_KEY); a corrupted archive installs nothing"

# --- the container image ---------------------------------------------------
image=dist/eddy_${version}_oci.tar
scripts/image.sh "$version" "$commit" "$image"
mkdir "$work/layout"
tar -xf "$image" -C "$work/layout"
if grep -rlq '127\.0\.0\.1' "$work/layout"; then die "$image names the build's loopback registry"; fi
"$crane" registry serve --address 127.0.0.1:0 >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	rport=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$work/registry.log" | head -n1)
	[ -z "$rport" ] || break
	sleep 0.1
done
[ -n "${rport:-}" ] || die "crane registry serve did not start: $(cat "$work/registry.log")"
ref=127.0.0.1:$rport/eddy:check
"$crane" push "$work/layout" "$ref" >/dev/null 2>&1 || die "crane push of the OCI layout failed"
plats=$("$crane" manifest "$ref" | python3 -c 'import json,sys; print(" ".join(sorted(m["platform"]["os"]+"/"+m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"])))')
[ "$plats" = "linux/amd64 linux/arm64" ] || die "image platforms: $plats"
for p in linux/amd64 linux/arm64; do
	"$crane" config --platform "$p" "$ref" >"$work/config.json"
	python3 - "$work/config.json" "$version" "$commit" <<'EOF' || die "image $p config: see above"
import json, sys
c = json.load(open(sys.argv[1]))
cfg = c["config"]
want = {"org.opencontainers.image.source": "https://github.com/eddy-sh/eddy",
        "org.opencontainers.image.version": sys.argv[2],
        "org.opencontainers.image.revision": sys.argv[3],
        "org.opencontainers.image.licenses": "Apache-2.0"}
bad = [f"label {k}={cfg.get('Labels', {}).get(k)!r}, want {v!r}" for k, v in want.items() if cfg.get("Labels", {}).get(k) != v]
if cfg.get("User") != "65532:65532":
    bad.append(f"user {cfg.get('User')!r}, want 65532:65532 (nonroot)")
if cfg.get("Entrypoint") != ["/ko-app/eddy"]:
    bad.append(f"entrypoint {cfg.get('Entrypoint')}")
if bad:
    sys.exit("\n".join(bad))
EOF
	digests=$("$crane" manifest --platform "$p" "$ref" | python3 -c 'import json,sys; print(" ".join(l["digest"] for l in json.load(sys.stdin)["layers"]))')
	read -r -a layers <<<"$digests"
	[ "${#layers[@]}" -eq 3 ] || die "image $p: ${#layers[@]} layers, want 3 (base, kodata, binary)"
	files() { "$crane" blob "127.0.0.1:$rport/eddy@$1" | tar -tz 2>/dev/null | sed 's#^/##; s#/$##' | sort | tr '\n' ' '; }
	got=$(files "${layers[0]}")
	[ "$got" = "etc etc/group etc/passwd etc/ssl etc/ssl/certs etc/ssl/certs/ca-certificates.crt home home/nonroot tmp " ] ||
		die "image $p base layer holds: $got"
	got=$(files "${layers[1]}")
	[ "$got" = "var var/run var/run/ko " ] || die "image $p kodata layer holds: $got"
	got=$(files "${layers[2]}")
	[ "$got" = "ko-app ko-app/eddy " ] || die "image $p top layer holds: $got, want the binary alone"
	if [ "$p" = "linux/$(go env GOARCH)" ]; then
		"$crane" blob "127.0.0.1:$rport/eddy@${layers[2]}" | tar -xz -C "$work" ko-app/eddy 2>/dev/null ||
			"$crane" blob "127.0.0.1:$rport/eddy@${layers[2]}" | tar -xz -C "$work" /ko-app/eddy
		[[ $("$work/ko-app/eddy" version) == "eddy $version (commit $commit, "* ]] || die "the image's eddy says: $("$work/ko-app/eddy" version)"
	fi
done
log "image: $image (OCI layout): linux/amd64+arm64, user 65532, entrypoint /ko-app/eddy, OCI labels, layers base+kodata+binary; its eddy runs"

# --- deploy/kubernetes -------------------------------------------------------
# kubeconform fetches schemas from GitHub, which this machine cannot reach:
# it validates against the Kubernetes definitions its own module ships
# (fixtures/cache: _definitions.json), made strict here as its openapi2jsonschema
# does (no property a schema does not name), and deploy/schemas for the
# ServiceMonitor CRD.
kc_mod=$(go env GOMODCACHE)/github.com/yannh/kubeconform@$(basename "$(dirname "$kubeconform")" | sed 's/^kubeconform-//')
defs=$(grep -l '"io.k8s.api.apps.v1.Deployment"' "$kc_mod"/fixtures/cache/* | head -n1)
[ -n "$defs" ] || die "kubeconform's module ($kc_mod) ships no Kubernetes definitions"
mkdir "$work/schemas"
python3 - "$defs" "$work/schemas" <<'EOF'
import json, os, sys
defs = json.load(open(sys.argv[1]))
def strict(s):
    if isinstance(s, dict):
        if "properties" in s and "additionalProperties" not in s:
            s["additionalProperties"] = False
        for v in s.values():
            strict(v)
    elif isinstance(s, list):
        for v in s:
            strict(v)
strict(defs)
out = sys.argv[2]
json.dump(defs, open(os.path.join(out, "_definitions.json"), "w"))
for name, d in [("deployment-apps-v1", "io.k8s.api.apps.v1.Deployment"),
                ("service-v1", "io.k8s.api.core.v1.Service"),
                ("configmap-v1", "io.k8s.api.core.v1.ConfigMap")]:
    json.dump({"$ref": "_definitions.json#/definitions/" + d}, open(os.path.join(out, name + ".json"), "w"))
EOF
cp deploy/schemas/*.json "$work/schemas/"
kc() { "$kubeconform" -strict -summary -schema-location "$work/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"; }
manifests=(deploy/kubernetes/configmap.yaml deploy/kubernetes/deployment.yaml deploy/kubernetes/service.yaml deploy/kubernetes/servicemonitor.yaml)
kc "${manifests[@]}" >&2 || die "kubeconform rejects deploy/kubernetes"
# The schemas are in force: a misspelt field fails.
sed 's/^  replicas: 1/  replica: 1/' deploy/kubernetes/deployment.yaml >"$work/typo.yaml"
if kc "$work/typo.yaml" >/dev/null 2>&1; then die "kubeconform accepts a Deployment with 'replica:'"; fi
sed 's/^    - port: metrics/    - prot: metrics/' deploy/kubernetes/servicemonitor.yaml >"$work/typo-sm.yaml"
if kc "$work/typo-sm.yaml" >/dev/null 2>&1; then die "kubeconform accepts a ServiceMonitor with 'prot:'"; fi
log "deploy/kubernetes: ${#manifests[@]} manifests valid (kubeconform -strict); misspelt fields are rejected"
