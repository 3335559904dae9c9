#!/bin/sh
# Creates the jiexu system user and group the services run as.
set -e
if ! getent group jiexu >/dev/null; then
    if command -v addgroup >/dev/null 2>&1; then
        addgroup --system --quiet jiexu
    else
        groupadd --system jiexu
    fi
fi
if ! getent passwd jiexu >/dev/null; then
    if command -v adduser >/dev/null 2>&1; then
        adduser --system --quiet --ingroup jiexu --home /var/lib/jiexu --no-create-home --shell /usr/sbin/nologin jiexu
    else
        useradd --system --gid jiexu --home-dir /var/lib/jiexu --no-create-home --shell /sbin/nologin jiexu
    fi
fi
exit 0
