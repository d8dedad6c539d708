#!/usr/bin/env bash
# The whole test suite, in one command (the README's; .ci/run runs it with
# CI=true): installs the real clients the interop tests need when missing,
# checks gofmt, then runs go vet, staticcheck, go test -race and go build over every
# module of the workspace (go.work: the library, cmd/wsserver, bench, ...).
# `./...` in workspace mode stays inside the module of the current directory,
# so the workspace's modules are named with the `work` pattern (all packages
# of every module that go.work uses).
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

step "modules in go.work"
if [ "$(go env GOWORK)" != "$PWD/go.work" ]; then
	echo "go.work is not in use (GOWORK=$(go env GOWORK)): the modules other than the library would go untested"
	exit 1
fi
go list -m -f '{{.Path}} ({{.Dir}})'

step "go vet work"
go vet work

step "staticcheck work"
# Pinned, fetched from the module proxy; its findings fail the suite as vet's do.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 work

step "go test -race work"
go test -race -timeout 14m work

step "go test ./internal/protocol (its assembly, which race builds leave out)"
go test -count=1 ./internal/protocol

step "go test -run NoAllocations ./cluster (allocation counts, which race builds change)"
go test -count=1 -run NoAllocations ./cluster

step "go build work (the commands of every module, bench's included)"
go build -o /dev/null work

step "cross-builds: go vet and go build of every module for other systems"
# Linux-only code (epoll event loops, raw sockets, TCP_KEEPIDLE...) is behind
# build tags with portable fallbacks; this keeps it so. Every module of
# go.work but bench (Linux only: it measures with epoll and taskset).
for target in darwin/amd64 darwin/arm64 windows/amd64 freebsd/amd64; do
	for dir in $(go list -m -f '{{.Dir}}'); do
		[ "$dir" = "$PWD/bench" ] && continue
		echo "$target: .${dir#"$PWD"}"
		(cd "$dir" && GOOS=${target%/*} GOARCH=${target#*/} go vet ./... &&
			GOOS=${target%/*} GOARCH=${target#*/} go build -o /dev/null ./...)
	done
done

step "all passed"
