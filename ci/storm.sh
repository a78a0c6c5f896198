#!/usr/bin/env bash
# ci/storm.sh measures reconnect storms for docs/reliability.md: CONNS
# clients (default 10000, herald bench storm) on one node, the node
# restarted once with SIGTERM (drain) and once with SIGKILL, each with
# admission control at its defaults and switched off. It writes the samples
# to docs/data/storm-*.csv, the summaries to docs/data/storm-*.json and the
# chart docs/reliability-storm.svg. Loopback only; takes a few minutes.
# Not part of `make test`: TestBenchStormRestarts is the bounded version.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

CONNS=${CONNS:-10000}
OUT=docs/data
ADDR=127.0.0.1:${STORM_PORT:-18777}
BIN=$(mktemp -d)/herald
go build -o "$BIN" ./cmd/herald
# Each connection takes a descriptor in the server and one in the bench.
ulimit -n "$(ulimit -Hn)"

server_pid=
start_server() { # env...
	env "$@" "$BIN" serve --listen "$ADDR" --api-key storm >>"$LOG" 2>&1 &
	server_pid=$!
	until curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1; do sleep 0.05; done
}
stop_server() {
	kill -TERM "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
}
trap stop_server EXIT

run() { # name signal env...
	local name=$1 sig=$2
	shift 2
	LOG=$(mktemp)
	start_server "$@"
	"$BIN" bench storm --conns "$CONNS" --ramp 2000 --restarts 1 --timeout 3m \
		--samples "$OUT/storm-$name.csv" --json "http://$ADDR" >"$OUT/storm-$name.json" 2>"$LOG.bench" &
	local bench=$!
	until grep -q "waiting for restart" "$LOG.bench"; do sleep 0.1; done
	kill "-$sig" "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	start_server "$@"
	local rc=0
	wait "$bench" || rc=$?
	# The restarted process took the whole storm: its CPU time so far and
	# its peak resident memory, from the kernel (its /metrics may not
	# answer while the storm lasts).
	local ticks hz
	ticks=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
	hz=$(getconf CLK_TCK)
	echo "server after the storm: CPU $(awk -v t="$ticks" -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}')s, peak RSS $(awk '/VmHWM/ {printf "%d MB", $2 / 1024}' "/proc/$server_pid/status")" >>"$LOG.bench"
	stop_server
	echo "== $name (exit $rc)"
	cat "$LOG.bench"
	[ "$rc" = 0 ] || { echo "server log:"; tail -20 "$LOG"; exit 1; }
}

off=(HERALD_ADMISSION_RATE=0 HERALD_ADMISSION_RATE_PER_IP=0)
run kill-admission KILL
run kill-no-admission KILL "${off[@]}"
run term-admission TERM
run term-no-admission TERM "${off[@]}"

go run ./internal/tools/stormchart -o docs/reliability-storm.svg -title "$CONNS clients, one node restarted" \
	"SIGKILL, admission on=$OUT/storm-kill-admission.csv" \
	"SIGKILL, admission off=$OUT/storm-kill-no-admission.csv" \
	"SIGTERM, admission on=$OUT/storm-term-admission.csv" \
	"SIGTERM, admission off=$OUT/storm-term-no-admission.csv"
