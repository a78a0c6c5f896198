#!/usr/bin/env bash
# ci/fuzz.sh runs every fuzz target of the repo for FUZZTIME each (default
# 3m), one at a time and on one worker (-parallel 1), so that a long run
# spares a shared machine. The suite itself (ci/test.sh) only replays the
# seed corpus under testdata/fuzz/; this script is how it grows.
#
#   FUZZTIME=5m ci/fuzz.sh                 # every target
#   FUZZTIME=30s ci/fuzz.sh FuzzEmulation  # the targets whose name matches
#
# After each target it keeps the new interesting inputs that are small
# (KEEP_BYTES, default 2048; at most KEEP_MAX per target, default 40) in the
# package's testdata/fuzz/<target>/, so the next run and the suite start
# from them; commit what it adds. A crash stops the script: go test has
# written the failing input to testdata/fuzz/<target>/ already; fix the
# decoder and keep that file as the regression seed.
#
# The last line per target goes to FUZZLOG (default /tmp/herald-fuzz.log): target,
# duration, execs, new interesting inputs, which docs/reliability.md quotes.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

FUZZTIME=${FUZZTIME:-3m}
KEEP_BYTES=${KEEP_BYTES:-2048}
KEEP_MAX=${KEEP_MAX:-40}
FUZZLOG=${FUZZLOG:-${TMPDIR:-/tmp}/herald-fuzz.log}
filter=${1:-.}

# package and target, one a line: every func Fuzz* in a _test.go file.
targets=$(grep -rHo --include='*_test.go' --exclude-dir=node_modules '^func Fuzz[A-Za-z0-9_]*' . |
	sed -E 's|^\./(.*)/[^/]*_test\.go:func (Fuzz.*)$|\1 \2|' | sort -u)

cache=$(go env GOCACHE)/fuzz
module=$(go list -m)

while read -r pkg target; do
	[[ $target =~ $filter ]] || continue
	echo "== $pkg $target ($FUZZTIME)" >&2
	out=$(mktemp)
	status=0
	go test "./$pkg" -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" -parallel 1 </dev/null 2>&1 | tee "$out" >&2 || status=$?
	# "fuzz: elapsed: 3m0s, execs: 1234567 (6858/sec), new interesting: 12 (total: 52)"
	last=$(grep -E '^fuzz: elapsed:' "$out" | tail -n 1 || true)
	rm -f "$out"
	echo "$pkg $target $FUZZTIME ${last#fuzz: } status=$status" >>"$FUZZLOG"
	if [[ $status != 0 ]]; then
		echo "ci/fuzz.sh: $target failed; its input is in $pkg/testdata/fuzz/$target/" >&2
		exit "$status"
	fi
	src=$cache/$module/$pkg/$target
	dst=$pkg/testdata/fuzz/$target
	[[ -d $src ]] || continue
	mkdir -p "$dst"
	kept=$(find "$dst" -type f | wc -l)
	# Smallest first: they say the most per byte. Read into an array, not
	# a pipe that stopping early would break (pipefail).
	mapfile -t small < <(find "$src" -type f -size -"$KEEP_BYTES"c -printf '%s %p\n' | sort -n | cut -d' ' -f2-)
	for f in "${small[@]}"; do
		((kept < KEEP_MAX)) || break
		[[ -e $dst/${f##*/} ]] && continue
		cp "$f" "$dst/"
		kept=$((kept + 1))
	done
done <<<"$targets"
echo "ci/fuzz.sh: figures in $FUZZLOG" >&2
