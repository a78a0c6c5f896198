#!/usr/bin/env bash
# ci/generate.sh regenerates every generated file and fails if that changed
# anything: the committed files must match what their sources produce.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

stale() {
	cat >&2 <<'MSG'
ci/generate.sh: generated files are stale (codes_gen.go,
clients/js/src/codes.ts, the code tables in docs/protocol.md).
codes.json is the source of all three. Regenerate them and commit the result:

    go generate ./...     # or: make generate

MSG
	exit 1
}

if [[ -z $(git status --porcelain) ]]; then
	# A clean tree (CI's clone): whatever generate changes is stale.
	go generate ./...
	git diff --exit-code || stale
	if [[ -n $(git status --porcelain) ]]; then
		git status --porcelain >&2
		stale
	fi
else
	# A working tree with local edits: git diff would report them too, so
	# compare what generate rewrites before and after instead.
	files=(codes_gen.go clients/js/src/codes.ts docs/protocol.md)
	before=$(cat -- "${files[@]}" 2>/dev/null | git hash-object --stdin)
	snapshot=$(mktemp -d)
	trap 'rm -rf -- "$snapshot"' EXIT
	for f in "${files[@]}"; do
		mkdir -p "$snapshot/$(dirname -- "$f")"
		cp -- "$f" "$snapshot/$f" 2>/dev/null || true
	done
	go generate ./...
	after=$(cat -- "${files[@]}" 2>/dev/null | git hash-object --stdin)
	if [[ $before != "$after" ]]; then
		for f in "${files[@]}"; do
			diff -u -- "$snapshot/$f" "$f" || true
		done
		stale
	fi
fi
