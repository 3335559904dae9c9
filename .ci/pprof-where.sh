#!/usr/bin/env bash
# Where a node's time goes: the share of a CPU profile (from 'jiexu bench
# --profile DIR' or 'jiexu bench nation --cpuprofile F') spent under each
# of the usual suspects. Shares overlap (an fsync is inside bbolt, a seal
# inside a transaction); each is the cumulative share of samples whose
# stack passes through it.
#   .ci/pprof-where.sh PROFILE
set -euo pipefail
prof=$1
share() { # share LABEL REGEX
  local line
  line=$(go tool pprof -top -nodefraction=0 -focus="$2" "$prof" 2>/dev/null | grep -m1 'Showing nodes accounting for' || true)
  printf '%-34s %s\n' "$1" "${line#Showing nodes accounting for }"
}
go tool pprof -top -nodecount=0 "$prof" 2>/dev/null | grep -m2 -E '^(Duration|Type)' || true
share "seal: ECDSA sign"                  'crypto/ecdsa.SignASN1'
share "seal check: ECDSA verify"          'crypto/ecdsa.VerifyASN1'
share "fsync (fdatasync)"                 'fdatasync|Fsync'
share "bbolt commit (write + fsync)"       'bbolt\.\(\*Tx\)\.Commit'
share "bbolt reads (cursor, get)"         'bbolt\.\(\*Cursor\)\.|bbolt\.\(\*Bucket\)\.Get'
share "inside bbolt transactions"         'bbolt\.\(\*DB\)\.(Update|View|Batch)|bbolt\.\(\*batch\)'
share "protobuf marshal/unmarshal"        'google\.golang\.org/protobuf/'
share "gRPC transport (HTTP/2 frames)"    'google\.golang\.org/grpc/internal/transport'
share "TLS record layer"                  'crypto/tls\.\(\*Conn\)\.(Read|Write)'
share "logging (slog)"                    'log/slog'
share "metrics scrapes"                   'prometheus.*Gather'
share "garbage collector (background)"    'runtime\.gcBgMarkWorker'
share "memory allocation"                 'runtime\.mallocgc'
