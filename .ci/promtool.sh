#!/usr/bin/env bash
# Checks the monitoring config and rules, and runs the alerting-rule unit tests.
set -euo pipefail
cd "$(dirname "$0")/../deploy/monitoring"
promtool check config prometheus.yml
promtool check rules jiexu-rules.yml
promtool test rules jiexu-rules_test.yml
