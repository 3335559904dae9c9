#!/usr/bin/env bash
# Builds jiexu and cmd/jetstream-bench (a module of its own: NATS stays out
# of jiexu's go.mod) and runs them alternately on this machine:
#   .ci/bench-compare.sh [jiexu bench flags…]
# e.g. .ci/bench-compare.sh --cases 5000 --rounds 3 --jetstream-messages 50000
# Prints jiexu's acknowledged inter-node messages/s next to JetStream's
# with sync_interval: always and with its default sync, and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/jiexu" ./cmd/jiexu
(cd cmd/jetstream-bench && go vet . && go build -o "$bin/jetstream-bench" .)
"$bin/jiexu" bench --compare-jetstream "$bin/jetstream-bench" "$@"
