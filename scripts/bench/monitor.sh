#!/usr/bin/env bash
# Benchmark: what one refresh of `netpilot monitor` costs, and its CPU at 1 s refresh.
#
#   sudo scripts/bench/monitor.sh                  # 10,000 connections, 60 s per scenario
#   sudo DURATION=20 scripts/bench/monitor.sh 5000 # other size, shorter
#   sudo scripts/bench/monitor.sh --quick          # CI's smoke run
#
# N established loopback connections (2N sockets) held by 16 processes in a namespace.
# 1. cold: `netpilot connections --json`, timed with hyperfine (the reference); and the
#    floor of a refresh while TCP is busy: one sock_diag dump of every TCP socket with its
#    tcp_info, read and not decoded (np-floor dump-info).
# 2. The real monitor runs in a tmux window (so it draws to a real terminal) for DURATION
#    seconds at --interval 1, logging each refresh's duration (RUST_LOG=debug, --log-file);
#    CPU share of one core from /proc/PID/stat over the same window. Twice:
#    idle (TCP quiet: the last dump is reused) and trickle (one connection sends 100 bytes
#    every 100 ms, so every refresh dumps all sockets with their counters).
# Targets: a refresh ≤ 1/3 of the cold command; under 5 % of one core.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
TMUX_SOCKET="np-bench-$$"
trap 'tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true; finish' EXIT
trap 'exit 130' INT TERM

n=10000
duration=${DURATION:-60}
if [ "${1:-}" = --quick ]; then
  n=1000; duration=5; shift
fi
[ $# -gt 0 ] && n=$1

need_root
ensure_hyperfine
command -v tmux > /dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux > /dev/null
build_release

echo "holding $n connections…" >&2
hold_connections np-monitor "$n"

ip netns exec np-monitor hyperfine --style none --shell=none --output=null --warmup 2 --runs 10 \
  --export-json "$BENCH_TMP/cold.json" "$NETPILOT connections --json"
cold_ms=$(python3 -c "import json; print(json.load(open('$BENCH_TMP/cold.json'))['results'][0]['median'] * 1000)")
# The floor of a busy refresh: one dump of every TCP socket with its tcp_info, nothing else.
ip netns exec np-monitor hyperfine --style none --shell=none --output=null --warmup 2 --runs 10 \
  --export-json "$BENCH_TMP/floor.json" "$FLOOR dump-info"
floor_ms=$(python3 -c "import json; print(json.load(open('$BENCH_TMP/floor.json'))['results'][0]['median'] * 1000)")

# monitor_run NAME: runs the monitor for $duration s; prints "median_ms p90_ms cpu_percent".
monitor_run() {
  local log="$BENCH_TMP/monitor.$1.log"
  tmux -L "$TMUX_SOCKET" -f /dev/null new-session -d -x 160 -y 50 -s "$1" \
    "exec ip netns exec np-monitor env RUST_LOG=netpilot=debug $NETPILOT monitor --interval 1 --log-file $log"
  local pid
  pid=$(tmux -L "$TMUX_SOCKET" display -p -t "$1" '#{pane_pid}')
  sleep 3 # past the first refresh's full /proc scan
  local before after
  before=$(cpu_ticks "$pid")
  sleep "$duration"
  after=$(cpu_ticks "$pid")
  tmux -L "$TMUX_SOCKET" send-keys -t "$1" q
  python3 - "$log" "$after" "$before" "$(getconf CLK_TCK)" "$duration" <<'PY'
import re, statistics, sys
log, after, before, tck, seconds = sys.argv[1], *map(float, sys.argv[2:])
units = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1000.0}
took = [float(v) * units[u] for v, u in re.findall(r"took=([0-9.]+)(ns|µs|us|ms|s)\b", open(log).read())]
took = sorted(took[1:])  # the first refresh is the cold baseline
if not took:
    sys.exit(f"no refresh logged in {log}")
print(f"{statistics.median(took):.2f} {took[int(0.9 * (len(took) - 1))]:.2f} {(after - before) / tck / seconds * 100:.2f}")
PY
}

read -r idle_ms idle_p90 idle_cpu <<< "$(monitor_run idle)"
start_trickle np-monitor
read -r busy_ms busy_p90 busy_cpu <<< "$(monitor_run trickle)"

cat <<REPORT

netpilot monitor, $n established connections ($((2 * n)) sockets), --interval 1, ${duration} s each:
| | refresh (median) | refresh (p90) | / cold connections --json | CPU of one core |
|---|---|---|---|---|
| cold \`netpilot connections --json\` | $(printf %.2f "$cold_ms") ms | | 1 | |
| floor: one dump with tcp_info (np-floor dump-info) | $(printf %.2f "$floor_ms") ms | | $(python3 -c "print(f'{$floor_ms / $cold_ms:.3f}')") | |
| monitor, idle | $idle_ms ms | $idle_p90 ms | $(python3 -c "print(f'{$idle_ms / $cold_ms:.3f}')") | $idle_cpu % |
| monitor, trickle (every refresh dumps) | $busy_ms ms | $busy_p90 ms | $(python3 -c "print(f'{$busy_ms / $cold_ms:.3f}')") | $busy_cpu % |
Targets: refresh ≤ 0.333 of cold; CPU < 5 %.
REPORT
