#!/bin/sh
# Creates the folders: /etc/jiexu for the config, certificate and key
# ('jiexu node init' writes them; readable by the jiexu group only) and
# /var/lib/jiexu for the store. Reloads systemd; starts nothing: a node needs
# 'jiexu node init' first.
set -e
install -d -m 0750 -o root -g jiexu /etc/jiexu
install -d -m 0750 -o jiexu -g jiexu /var/lib/jiexu
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
