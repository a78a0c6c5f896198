#!/usr/bin/env bash
# ci/lint.sh checks formatting, go vet and staticcheck, the same way locally
# and in CI.
#
# govulncheck is not run: it needs its vulnerability database from
# vuln.go.dev, which the build machines cannot reach. Add
# `go run golang.org/x/vuln/cmd/govulncheck@<pinned> ./...` here once they can.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

# Pinned so that a new staticcheck release cannot fail a build on its own;
# bump it on purpose (the release must support the go directive in go.mod).
STATICCHECK_VERSION=v0.8.2

# gofmt's own failure (a syntax error) stops the script through set -e.
unformatted=$(gofmt -l .)
if [[ -n $unformatted ]]; then
	echo "ci/lint.sh: these files are not gofmt-formatted; run gofmt -w on them:" >&2
	echo "$unformatted" | sed 's/^/  /' >&2
	exit 1
fi

# go.mod and go.sum must say what the code imports, directly or not.
if ! go mod tidy -diff >/dev/null; then
	echo "ci/lint.sh: go.mod or go.sum is not tidy; run go mod tidy and commit the result:" >&2
	go mod tidy -diff >&2 || true
	exit 1
fi

go vet ./...
go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./...
