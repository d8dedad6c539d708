#!/usr/bin/env bash
# The whole test suite, in one command (the README's; .ci/run runs it with
# CI=true): installs the real clients the interop tests need when missing,
# checks gofmt, runs go vet and go test -race on the root module (library,
# internal packages, cmd/wsserver, interop), then vets and builds the bench
# module without running its benchmarks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "interop clients"
scripts/install-clients.sh

step "gofmt"
unformatted=$(gofmt -l . | grep -v '/node_modules/' || true)
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:"
	echo "$unformatted"
	exit 1
fi

step "go vet ./..."
go vet ./...

step "go test -race ./..."
go test -race -timeout 9m ./...

step "go test ./internal/protocol (its assembly, which race builds leave out)"
go test -count=1 ./internal/protocol

step "bench module: go vet ./... and go build ./..."
(cd bench && go vet ./... && go build ./...)

step "all passed"
