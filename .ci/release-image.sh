#!/usr/bin/env bash
# Writes the buf image of the released wire contract, which .ci/run's
# 'buf breaking' compares every change against:
#   .ci/release-image.sh            # .ci/release/jiexu-v1.binpb from the working tree
#
# Run it when a release is cut (the lead does, at release time, from the
# release commit), and commit the image with the release: until then the
# check compares against the last committed image. There are no release tags
# yet, and the Buf Schema Registry is not reachable from these machines, so a
# committed image is the offline, reproducible "last release".
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/tools.sh
export PATH="$(go env GOPATH)/bin:$PATH"
buf build --exclude-source-info -o .ci/release/jiexu-v1.binpb
echo "wrote .ci/release/jiexu-v1.binpb from $(git rev-parse --short HEAD 2>/dev/null || echo 'the working tree'); commit it with the release"
