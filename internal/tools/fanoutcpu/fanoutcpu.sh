#!/usr/bin/env bash
# fanoutcpu.sh SERVER_BIN CONNS RATE DURATION [BENCH_BIN]
#
# Server CPU per delivery under `herald bench`: starts SERVER_BIN serve on
# loopback (the environment passes through, e.g. HERALD_WEBSOCKET_ENGINE),
# samples its utime+stime from /proc/PID/stat every 0.25 s, runs
# BENCH_BIN bench (default SERVER_BIN) with CONNS subscribers of one
# channel at RATE publications/s for DURATION, and prints one line: the
# server's CPU-seconds per 1M deliveries between the end of connecting
# and the end of publishing (from the JSON's connect_seconds and
# publish_seconds), deliveries/s, delivery and publish p50/p99, errors.
set -euo pipefail
srv=$1 conns=$2 rate=$3 dur=$4 bench=${5:-$1}
port=${FANOUTCPU_PORT:-$((20000 + RANDOM % 10000))}
tmp=$(mktemp -d)
trap 'kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; kill $sampler 2>/dev/null || true; rm -rf "$tmp"' EXIT
HERALD_ADMISSION_RATE=0 "$srv" serve --listen 127.0.0.1:$port --api-key k >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.1; done
tick=$(getconf CLK_TCK)
(while kill -0 $pid 2>/dev/null; do
  echo "$(date +%s.%N) $(awk '{print $14+$15}' /proc/$pid/stat)"; sleep 0.25
done) >"$tmp/cpu" 2>/dev/null &
sampler=$!
t0=$(date +%s.%N)
HERALD_API_KEY=k "$bench" bench --conns "$conns" --channels 1 --rate "$rate" --duration "$dur" \
  --ramp 2000 --json http://127.0.0.1:$port >"$tmp/out.json" 2>"$tmp/bench.err" || true
sleep 0.3
if ! [ -s "$tmp/out.json" ]; then echo "bench failed: $(tail -3 "$tmp/bench.err")"; exit 1; fi
python3 - "$tmp/out.json" "$tmp/cpu" "$t0" "$tick" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
samples = [tuple(map(float, l.split())) for l in open(sys.argv[2]) if len(l.split()) == 2]
t0, tick = float(sys.argv[3]), float(sys.argv[4])
a, b = t0 + r["connect_seconds"], t0 + r["connect_seconds"] + r["publish_seconds"]
def at(t):  # the CPU ticks of the sample nearest t
    return min(samples, key=lambda s: abs(s[0] - t))[1]
cpu = (at(b) - at(a)) / tick
d = r["deliveries"]
print(f'deliveries {d} of {r["expected_deliveries"]}  cpu_s_per_1M {cpu / d * 1e6 if d else 0:.2f}  '
      f'deliveries/s {r["deliveries_per_second"]:.0f}  p50/p99 {r["p50_ms"]:.1f}/{r["p99_ms"]:.1f} ms  '
      f'publish p50/p99 {r["publish_p50_ms"]:.1f}/{r["publish_p99_ms"]:.1f} ms  errors {r["errors"]}')
PY
