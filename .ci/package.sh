#!/usr/bin/env bash
# Builds the .deb and .rpm into dist/ with nfpm (pinned, installed as a Go
# module) and checks them: dpkg-deb --info and --contents, lintian (installed
# with apt-get when missing; deploy/packaging/lintian-overrides says what is
# accepted and why), and systemd-analyze security of every unit (exposure at
# most 2.0).
#   VERSION=1.2.3 .ci/package.sh    # default 0.1.0; the release is 0.git<commit>
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"

# nfpm v2.46 and later need go.digitalxero.dev modules the module proxy does
# not serve to these machines; v2.44.0 builds .deb and .rpm with
# google/rpmpack.
NFPM_VERSION=v2.44.0
if ! nfpm --version 2>&1 | grep -q "${NFPM_VERSION#v}"; then
  go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
fi

export VERSION="${VERSION:-0.1.0}"
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
export RELEASE="${RELEASE:-0.git$commit}"
export ARCH="$(go env GOARCH)"
export DIST=dist
rm -rf "$DIST" && mkdir -p "$DIST"

CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X jiexu/node.Version=v$VERSION -X jiexu/node.Commit=$commit" -o "$DIST/jiexu" ./cmd/jiexu
"$DIST/jiexu" version
"$DIST/jiexu" completion bash > "$DIST/jiexu.bash"
"$DIST/jiexu" completion zsh > "$DIST/_jiexu"
{
  printf 'jiexu (%s-%s) unstable; urgency=medium\n\n' "$VERSION" "$RELEASE"
  printf '  * Built from commit %s.\n\n' "$commit"
  printf ' -- jiexu maintainers <jiexu@nhsa.invalid>  %s\n' "$(date -R -u -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")"
} | gzip -9n > "$DIST/changelog.gz"

nfpm package --config deploy/packaging/nfpm.yaml --packager deb --target "$DIST/"
nfpm package --config deploy/packaging/nfpm.yaml --packager rpm --target "$DIST/"
ls -l "$DIST"/*.deb "$DIST"/*.rpm

deb=$(ls "$DIST"/*.deb)
echo "== dpkg-deb --info"
dpkg-deb --info "$deb"
echo "== dpkg-deb --contents"
contents=$(dpkg-deb --contents "$deb")
echo "$contents"
for want in ./usr/bin/jiexu ./usr/lib/systemd/system/jiexu-node.service ./usr/lib/systemd/system/jiexu-registry-sign.timer \
    ./usr/lib/systemd/system/jiexu-targets.timer ./usr/share/bash-completion/completions/jiexu ./usr/share/doc/jiexu/copyright; do
  grep -q " $want\$" <<<"$contents" || { echo "the .deb lacks $want"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$tmp"
grep -q "adduser --system" "$tmp/preinst" || { echo "preinst does not create the jiexu user"; exit 1; }
grep -q "/etc/jiexu" "$tmp/postinst" || { echo "postinst does not create /etc/jiexu"; exit 1; }

echo "== lintian"
if ! command -v lintian >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lintian >/dev/null
fi
if command -v lintian >/dev/null 2>&1; then
  # Errors fail the build; warnings are shown. Accepted tags are overridden,
  # with the reason, in deploy/packaging/lintian-overrides.
  lintian --fail-on error --display-info --tag-display-limit 0 "$deb"
else
  echo "lintian not installable here (not root): skipped"
fi
if command -v rpm >/dev/null 2>&1; then
  rpm -qpil "$DIST"/*.rpm
fi

echo "== systemd-analyze security (exposure at most 2.0)"
if ! command -v systemd-analyze >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi
if command -v systemd-analyze >/dev/null 2>&1; then
  for unit in deploy/systemd/*.service; do
    out=$(cd deploy/systemd && systemd-analyze security --offline=true --threshold=20 "$(basename "$unit")" 2>&1) || {
      echo "$out"; echo "$unit: exposure above 2.0"; exit 1; }
    echo "$out" | tail -1
  done
else
  echo "systemd-analyze not installable here (not root): skipped"
fi
