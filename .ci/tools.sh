#!/usr/bin/env bash
# Installs the pinned code-generation tools into $(go env GOPATH)/bin, once.
# buf takes minutes to build, so an installed binary of the right version is kept.
set -euo pipefail

BUF_VERSION=v1.75.0
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.0

bin="$(go env GOPATH)/bin"
export PATH="$bin:$PATH"

have() { # have TOOL VERSION-SUBSTRING
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>&1 | grep -q -- "${2#v}"
}

have buf "$BUF_VERSION" || go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
have protoc-gen-go "$PROTOC_GEN_GO_VERSION" || go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
have protoc-gen-go-grpc "${PROTOC_GEN_GO_GRPC_VERSION}" || go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
