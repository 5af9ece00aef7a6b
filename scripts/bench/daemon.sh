#!/usr/bin/env bash
# Benchmark: `netpilot daemon` — event fan-out, request rate, idle cost.
#
#   scripts/bench/daemon.sh            # 1,000 subscribers × 200 changes; 5 s rate runs; 20 s idle
#   scripts/bench/daemon.sh --quick    # CI's smoke run
#
# 1. fan-out: 1,000 WebSocket clients subscribed to `network`; the fake WiFi backend
#    reports a device change and the time until the last client has the new state is
#    taken (np-daemon-bench fanout: the daemon's engine, dispatcher and WebSocket server
#    in one process, the clients in another thread). Floor: a bare tokio-tungstenite
#    broadcast of one line to as many clients.
# 2. rate: `network.status` on the Unix socket of the real `netpilot daemon`, 4 clients
#    with 64 requests in flight each. Floor: a server answering every line with a fixed
#    line (np-daemon-bench echo-floor), same client.
# 3. menu: `network.status` with a full network menu (50 networks in range, 20 saved, over
#    two radios: the daemon's engine and dispatcher over the fake backend, on a Unix
#    socket; np-daemon-bench menu-serve), one call after another from one client: p50 and
#    p99 per call (goal: p99 under 1 ms). Floor: the same client against echo-floor, whose
#    answer is a fixed short line.
# 4. idle: the real daemon, no client, on a D-Bus system bus without NetworkManager (as on
#    a machine where NetworkManager is stopped): RSS, CPU ticks and context switches
#    (wakeups) of all its threads over IDLE seconds.
# Needs no root.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap 'kill "${DAEMON_PIDS[@]}" 2>/dev/null || true; finish' EXIT
trap 'exit 130' INT TERM
DAEMON_PIDS=()

subscribers=1000 rounds=200 seconds=5 idle=20 calls=20000
if [ "${1:-}" = --quick ]; then
  subscribers=200 rounds=20 seconds=1 idle=3 calls=2000
fi
BENCH="$TARGET_DIR/release/np-daemon-bench"
build_release

value() { # value KEY LINE: the number after KEY= in LINE
  sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<< "$2"
}

wait_for_socket() {
  for _ in $(seq 1 100); do [ -S "$1" ] && return; sleep 0.05; done
  echo "no socket at $1" >&2; exit 1
}

echo "== fan-out: backend event → last of $subscribers WebSocket subscribers ($rounds changes)"
ours=$("$BENCH" fanout --subscribers "$subscribers" --rounds "$rounds")
floor=$("$BENCH" fanout --subscribers "$subscribers" --rounds "$rounds" --floor)
echo "$ours"
echo "$floor"
awk -v o="$(value last_p99_ms "$ours")" -v f="$(value last_p99_ms "$floor")" \
  -v o50="$(value last_p50_ms "$ours")" -v f50="$(value last_p50_ms "$floor")" \
  'BEGIN { printf "last subscriber: p50 %.2f ms (floor %.2f, ×%.1f), p99 %.2f ms (floor %.2f, ×%.1f); target p99 < 10 ms\n", o50, f50, o50 / f50, o, f, o / f }'

echo "== rate: network.status on the Unix socket"
"$NETPILOT" daemon --socket "$BENCH_TMP/np.sock" 2> "$BENCH_TMP/daemon.log" &
DAEMON_PIDS+=($!)
wait_for_socket "$BENCH_TMP/np.sock"
ours=$("$BENCH" rate --socket "$BENCH_TMP/np.sock" --clients 4 --seconds "$seconds")
kill "${DAEMON_PIDS[-1]}"; wait "${DAEMON_PIDS[-1]}" 2>/dev/null || true
"$BENCH" echo-floor --socket "$BENCH_TMP/floor.sock" > /dev/null &
DAEMON_PIDS+=($!)
wait_for_socket "$BENCH_TMP/floor.sock"
floor=$("$BENCH" rate --socket "$BENCH_TMP/floor.sock" --clients 4 --seconds "$seconds")
kill "${DAEMON_PIDS[-1]}"; wait "${DAEMON_PIDS[-1]}" 2>/dev/null || true
echo "netpilot $ours"
echo "floor    $floor"
awk -v o="$(value responses_per_s "$ours")" -v f="$(value responses_per_s "$floor")" \
  'BEGIN { printf "network.status: %.0f/s, %.2f of the floor (%.0f/s); target > 20000/s\n", o, o / f, f }'
if [ "$(value refused "$ours")" != 0 ]; then
  echo "note: some requests were refused (rate limit): $ours"
fi

echo "== menu: network.status with 50 networks in range and 20 saved, $calls calls in turn"
"$BENCH" menu-serve --socket "$BENCH_TMP/menu.sock" --networks 50 --saved 20 > /dev/null &
DAEMON_PIDS+=($!)
wait_for_socket "$BENCH_TMP/menu.sock"
ours=$("$BENCH" latency --socket "$BENCH_TMP/menu.sock" --calls "$calls")
kill "${DAEMON_PIDS[-1]}"; wait "${DAEMON_PIDS[-1]}" 2>/dev/null || true
"$BENCH" echo-floor --socket "$BENCH_TMP/floor2.sock" > /dev/null &
DAEMON_PIDS+=($!)
wait_for_socket "$BENCH_TMP/floor2.sock"
floor=$("$BENCH" latency --socket "$BENCH_TMP/floor2.sock" --calls "$calls")
kill "${DAEMON_PIDS[-1]}"; wait "${DAEMON_PIDS[-1]}" 2>/dev/null || true
echo "netpilot $ours"
echo "floor    $floor"
awk -v o="$(value p99_ms "$ours")" -v f="$(value p99_ms "$floor")" \
  -v o50="$(value p50_ms "$ours")" -v f50="$(value p50_ms "$floor")" -v b="$(value answer_bytes "$ours")" \
  'BEGIN { printf "network.status with the menu (%d bytes): p50 %.3f ms (floor %.3f, ×%.1f), p99 %.3f ms (floor %.3f, ×%.1f); target p99 < 1 ms\n", b, o50, f50, o50 / f50, o, f, o / f }'

echo "== idle: the daemon with no client, no NetworkManager, for $idle s"
# A system bus of its own, so the daemon waits for NetworkManager on it (no polling).
dbus-daemon --session --nofork --nopidfile --print-address=3 3> "$BENCH_TMP/bus" 2> /dev/null &
DAEMON_PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$BENCH_TMP/bus" ] && break; sleep 0.05; done
DBUS_SYSTEM_BUS_ADDRESS=$(head -n1 "$BENCH_TMP/bus") \
  "$NETPILOT" daemon --socket "$BENCH_TMP/idle.sock" 2> "$BENCH_TMP/idle.log" &
pid=$!
DAEMON_PIDS+=($pid)
wait_for_socket "$BENCH_TMP/idle.sock"
sleep 3 # past start-up
switches() { # "tid context-switches" for each of the process's threads
  for task in /proc/"$1"/task/*; do
    echo "${task##*/} $(awk '/ctxt_switches/ { n += $2 } END { print n }' "$task/status")"
  done
}
cpu_before=$(cpu_ticks "$pid")
switches "$pid" > "$BENCH_TMP/switches.before"
sleep "$idle"
cpu_after=$(cpu_ticks "$pid")
switches "$pid" > "$BENCH_TMP/switches.after"
# Threads that lived through the window count their own switches; tokio's blocking
# threads from start-up may end in it (they idle out after 10 s): counted, not subtracted.
wakeups=$(awk 'NR == FNR { before[$1] = $2; next }
  { n += ($1 in before) ? $2 - before[$1] : $2 }
  END { print n + 0 }' "$BENCH_TMP/switches.before" "$BENCH_TMP/switches.after")
ended=$(awk 'NR == FNR { after[$1] = 1; next } !($1 in after) { n++ } END { print n + 0 }' \
  "$BENCH_TMP/switches.after" "$BENCH_TMP/switches.before")
rss=$(awk '/VmRSS/ { print $2 }' /proc/"$pid"/status)
threads=$(ls /proc/"$pid"/task | wc -l)
echo "idle: RSS $((rss / 1024)).$(( (rss % 1024) * 10 / 1024 )) MiB (target < 15 MiB), $threads threads," \
  "CPU $((cpu_after - cpu_before)) ticks, $wakeups wakeups in $idle s (target 0)," \
  "$ended start-up threads ended"
