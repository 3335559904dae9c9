#!/usr/bin/env bash
# Lints the protos and regenerates the committed Go code with the pinned tools.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/tools.sh
export PATH="$(go env GOPATH)/bin:$PATH"
buf lint
buf generate
