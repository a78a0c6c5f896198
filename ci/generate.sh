#!/usr/bin/env bash
# ci/generate.sh regenerates every generated file and fails if that changed
# anything: the committed files must match what their sources produce.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

source ci/need.sh

stale() {
	cat >&2 <<'MSG'
ci/generate.sh: generated files are stale (codes_gen.go,
clients/js/src/codes.ts, the code tables in docs/protocol.md; the demo's
bundles in demo/static). codes.json is the source of the first three,
clients/js of the bundles. Regenerate them and commit the result:

    make generate     # go generate ./..., then the demo bundles

MSG
	exit 1
}

# The browser bundles the demo of `herald serve --dev` embeds, copied
# from a fresh build of clients/js so that the binary needs no npm.
bundles=(herald.min.js herald-shared.min.js herald-shared-worker.min.js herald-fallback.min.js)

regenerate() {
	go generate ./...
	need_npm clients/js
	(cd clients/js && npm run build --silent)
	for f in "${bundles[@]}"; do
		cp -- "clients/js/dist/$f" "demo/static/$f"
	done
}

if [[ -z $(git status --porcelain) ]]; then
	# A clean tree (CI's clone): whatever generate changes is stale.
	regenerate
	git diff --exit-code || stale
	if [[ -n $(git status --porcelain) ]]; then
		git status --porcelain >&2
		stale
	fi
else
	# A working tree with local edits: git diff would report them too, so
	# compare what generate rewrites before and after instead.
	files=(codes_gen.go clients/js/src/codes.ts docs/protocol.md "${bundles[@]/#/demo/static/}")
	before=$(cat -- "${files[@]}" 2>/dev/null | git hash-object --stdin)
	snapshot=$(mktemp -d)
	trap 'rm -rf -- "$snapshot"' EXIT
	for f in "${files[@]}"; do
		mkdir -p "$snapshot/$(dirname -- "$f")"
		cp -- "$f" "$snapshot/$f" 2>/dev/null || true
	done
	regenerate
	after=$(cat -- "${files[@]}" 2>/dev/null | git hash-object --stdin)
	if [[ $before != "$after" ]]; then
		for f in "${files[@]}"; do
			diff -u -- "$snapshot/$f" "$f" || true
		done
		stale
	fi
fi
