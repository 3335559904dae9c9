#!/usr/bin/env bash
# govulncheck against a vulnerability database built here, offline, from the
# golang.org/x/vulndb module: no request to vuln.go.dev.
#
# The vulndb module carries every report twice: data/reports/*.yaml (what the
# Go security team writes) and data/osv/*.json (the same reports converted to
# OSV by their vulnreport tool, checked in and kept equal by their tests).
# Its cmd/indexdb turns the OSV folder into the v1 database layout that
# 'govulncheck -db file:///…' reads (index/db.json, index/modules.json,
# index/vulns.json, ID/*.json). (cmd/gendb converts the YAML directly but
# needs the git history for the "modified" dates, which a module zip has not.)
#
# Both versions are pinned; the database is built once per vulndb version and
# cached outside the repository. Bump VULNDB_VERSION to pick up new reports:
#   go list -m -json golang.org/x/vulndb@latest
set -euo pipefail
cd "$(dirname "$0")/.."

GOVULNCHECK_VERSION=v1.9.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

# The standard library checked is the toolchain go.mod names.
export GOTOOLCHAIN=auto
bin="$(go env GOPATH)/bin"
export PATH="$bin:$PATH"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/jiexu/vulndb/$VULNDB_VERSION"

if ! command -v govulncheck >/dev/null 2>&1 || ! govulncheck -version 2>/dev/null | grep -q "govulncheck@${GOVULNCHECK_VERSION}"; then
  go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
fi

if [ ! -f "$cache/index/db.json" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # Outside this module, so that go.mod and go.sum stay untouched.
  src=$(cd "$work" && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src/data/osv" ] || { echo "golang.org/x/vulndb@$VULNDB_VERSION has no data/osv"; exit 1; }
  (cd "$work" && go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$work/db")
  mkdir -p "$(dirname "$cache")"
  rm -rf "$cache"
  mv "$work/db" "$cache"
fi
echo "vulnerability database: golang.org/x/vulndb@$VULNDB_VERSION ($(find "$cache/ID" -name "*.json" | wc -l) reports), $cache"
govulncheck -db "file://$cache" ./...
