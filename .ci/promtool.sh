#!/usr/bin/env bash
# Checks the monitoring config and rules, and runs the alerting-rule unit tests.
set -euo pipefail
cd "$(dirname "$0")/../deploy/monitoring"
# The scrape config names the monitoring certificate's files relative to
# itself (jiexu/cert.pem …); promtool checks that they exist, so check a copy
# beside stand-ins.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp prometheus.yml jiexu-rules.yml "$tmp"/
mkdir "$tmp/jiexu"
touch "$tmp/jiexu/ca.pem" "$tmp/jiexu/cert.pem" "$tmp/jiexu/key.pem"
promtool check config "$tmp/prometheus.yml"
promtool check rules jiexu-rules.yml
promtool test rules jiexu-rules_test.yml
