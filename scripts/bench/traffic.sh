#!/usr/bin/env bash
# Benchmark: what `netpilot traffic --interval 1` costs, and how exact it is.
#
#   sudo scripts/bench/traffic.sh                  # 20,000 connections, 60 s per scenario
#   sudo DURATION=20 scripts/bench/traffic.sh 5000 # other size, shorter
#   sudo scripts/bench/traffic.sh --quick          # CI's smoke test
#
# 1. idle:    N idle connections held by 16 processes; CPU share of one core, from
#             /proc/PID/stat over DURATION seconds.
# 2. trickle: the same plus one connection sending 100 bytes every 100 ms, so TCP is never
#             quiet and every sample dumps all N connections with their tcp_info.
# 3. naive:   what a rescan of sock_diag and /proc every second would cost: one cold
#             `netpilot connections --json` per second.
# 4. accuracy: 200 MB sent at full speed across a veth pair between two namespaces (never
#             loopback: both ends would be on one host); bytes `traffic` charges to the
#             receiving and sending processes versus bytes sent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap finish EXIT
trap 'exit 130' INT TERM

n=20000
duration=${DURATION:-60}
transfer=200000000
if [ "${1:-}" = --quick ]; then
  n=1000; duration=5; transfer=20000000; shift
fi
[ $# -gt 0 ] && n=$1

need_root
ensure_hyperfine
build_release

# share_of_core NS SECONDS ARGS…: runs netpilot ARGS in NS and prints its CPU share.
share_of_core() {
  local ns=$1 seconds=$2; shift 2
  ip netns exec "$ns" "$NETPILOT" "$@" > /dev/null &
  local pid=$!
  sleep 3 # past the baseline's full /proc scan
  local before after
  before=$(cpu_ticks "$pid")
  sleep "$seconds"
  after=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  python3 -c "print(f'{($after - $before) / $(getconf CLK_TCK) / $seconds * 100:.2f} %')"
}

echo "holding $n connections…" >&2
hold_connections np-traffic "$n"
idle=$(share_of_core np-traffic "$duration" traffic --interval 1 --json)

start_trickle np-traffic
trickle=$(share_of_core np-traffic "$duration" traffic --interval 1 --json)

ip netns exec np-traffic hyperfine --style none --shell=none --output=null --warmup 1 --runs 5 \
  --export-json "$BENCH_TMP/naive.json" "$NETPILOT connections --json"
naive=$(python3 -c "
import json
r = json.load(open('$BENCH_TMP/naive.json'))['results'][0]
print(f\"{(r['user'] + r['system']) * 100:.1f} %\")")
cleanup

accuracy=$(BENCH_TMP=$BENCH_TMP python3 "$BENCH_DIR/accuracy.py" "$NETPILOT" \
  "$REPO/crates/netpilot-testkit/holder.py" "$transfer")

cat <<REPORT

netpilot traffic --interval 1, $n idle connections ($((2 * n)) sockets), CPU share of one core:
| scenario | CPU |
|---|---|
| idle | $idle |
| trickle (TCP never quiet: full dump every second) | $trickle |
| naive per-second rescan (one cold connections --json per second) | $naive |

accuracy across a veth pair: $accuracy
REPORT
