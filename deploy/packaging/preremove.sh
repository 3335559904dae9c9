#!/bin/sh
# Stops the services before their binary goes away. /etc/jiexu and
# /var/lib/jiexu (the node's key and store) are kept.
set -e
if [ -d /run/systemd/system ]; then
    for unit in jiexu-node.service jiexu-registry.service jiexu-registry-sign.timer jiexu-targets.timer; do
        systemctl stop "$unit" >/dev/null 2>&1 || true
    done
fi
exit 0
