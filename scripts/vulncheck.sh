#!/usr/bin/env bash
# scripts/vulncheck.sh — govulncheck ./... : fails (exit 3) when eddy's code
# reaches a known vulnerability in a module it uses or in the Go standard
# library; a vulnerability in a module eddy requires but never calls is
# listed, not failed on (govulncheck's own rule). .ci/run calls it.
#
# The database. govulncheck reads https://vuln.go.dev by default, which this
# project's machines cannot reach (they reach package registries only). The
# same reports come as a Go module, golang.org/x/vulndb (data/osv: one OSV
# JSON per report), through the Go module proxy; its cmd/indexdb turns them
# into the database layout govulncheck reads with -db file://. Both are cached
# in ~/.cache/eddy-tools; VULNDB_VERSION pins the snapshot: raise it to
# pick up newer reports. EDDY_VULNDB=URL uses another database (e.g.
# https://vuln.go.dev where it can be reached).
set -euo pipefail
cd "$(dirname "$0")/.."

GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.9.0}
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/eddy-tools

log() { printf 'vulncheck: %s\n' "$*" >&2; }
tool() {
	local dir=$cache/$1-$2
	if [ ! -x "$dir/$1" ]; then
		log "installing $1 $2 (go install, cached in $dir)"
		GOFLAGS= GOBIN=$dir go install "$3@$2" >&2
	fi
	echo "$dir/$1"
}
govulncheck=$(tool govulncheck "$GOVULNCHECK_VERSION" golang.org/x/vuln/cmd/govulncheck)

db=${EDDY_VULNDB:-}
if [ -z "$db" ]; then
	dir=$cache/vulndb-$VULNDB_VERSION
	if [ ! -f "$dir/index/db.json" ]; then
		indexdb=$(tool indexdb "$VULNDB_VERSION" golang.org/x/vulndb/cmd/indexdb)
		src=$(GOFLAGS= go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
		log "building the vulnerability database from $src/data/osv ($(ls "$src/data/osv" | wc -l) reports)"
		rm -rf "$dir.tmp"
		"$indexdb" -vulns "$src/data/osv" -out "$dir.tmp"
		mv "$dir.tmp" "$dir"
	fi
	db=file://$dir
	log "database: golang.org/x/vulndb@$VULNDB_VERSION (offline)"
fi

# The release's tags: what ships is what is checked. (`govulncheck -db
# file://DIR ./...` without -format json gives the long report for people.)
"$govulncheck" -db "$db" -tags grpcnotrace -format json ./... >"${TMPDIR:-/tmp}/eddy-vulncheck.$$.json"
trap 'rm -f "${TMPDIR:-/tmp}/eddy-vulncheck.$$.json"' EXIT
# A reachable vulnerability fails, with one exception: one fixed only in a
# newer Go than this project's machines have, listed in
# scripts/vulncheck-stdlib.txt for exactly the Go version in use (so a new
# toolchain drops every entry, and a new report fails until looked at).
python3 - "${TMPDIR:-/tmp}/eddy-vulncheck.$$.json" scripts/vulncheck-stdlib.txt "$(go env GOVERSION)" <<'PY'
import json, sys
path, allow_path, gover = sys.argv[1:]
allowed = {}
for line in open(allow_path):
    f = line.split("#")[0].split()
    if len(f) >= 2 and f[0] == gover:
        allowed[f[1]] = True
dec = json.JSONDecoder()
text = open(path).read()
i, found = 0, {}
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    msg, i = dec.raw_decode(text, i)
    fi = msg.get("finding")
    if not fi or not fi.get("trace") or not fi["trace"][0].get("function"):
        continue  # imported or required, not called
    t = fi["trace"][0]
    where = " <- ".join(f'{x.get("package", "")}.{x.get("function", "")}' for x in fi["trace"][:3])
    found.setdefault((fi["osv"], t.get("module")), (t.get("version"), fi.get("fixed_version", "no fix"), where))
failed = []
for (osv, mod), (ver, fix, where) in sorted(found.items()):
    if mod == "stdlib" and osv in allowed:
        print(f"vulncheck: {osv}: Go standard library {ver}, fixed in {fix}: allowed for {gover} (scripts/vulncheck-stdlib.txt)", file=sys.stderr)
        continue
    failed.append(f"{osv}: {mod}@{ver}, fixed in {fix} (https://pkg.go.dev/vuln/{osv}); called as {where}")
if failed:
    print("vulncheck: FAIL: eddy reaches " + str(len(failed)) + " known vulnerabilit" + ("y" if len(failed) == 1 else "ies") + ":", file=sys.stderr)
    for f in failed:
        print("  " + f, file=sys.stderr)
    sys.exit(3)
print(f"vulncheck: ok: no reachable vulnerability but {len(found)} allowed for {gover}", file=sys.stderr)
PY
