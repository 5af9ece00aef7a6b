#!/usr/bin/env bash
# Reliability figures of the real daemon (release build, no NetworkManager, in a fresh
# network namespace, both transports):
#   1. network.status p50/p99 alone, then beside 500 hostile clients (half a line; a
#      WebSocket with no handshake; subscribed to everything and never reading), and how
#      many of those the daemon had closed 15 s later;
#   2. 1,000 clients connecting, asking and leaving at once for 5 minutes: calls, failures,
#      the daemon's RSS and open files before and after;
#   3. a fuzz of 1,000,000 frames from a fixed seed over 8 Unix and 8 WebSocket
#      connections: frames unanswered, the daemon still running, RSS before and after.
#
#   sudo scripts/bench/hostile.sh           # the figures of docs/reliability.md
#   sudo scripts/bench/hostile.sh --quick   # CI's smoke run: 60 clients, 10 s, 20,000 frames
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap finish EXIT
trap 'exit 130' INT TERM

hostile=500 churn=1000 churn_seconds=300 frames=1000000
if [ "${1:-}" = --quick ]; then
  hostile=60 churn=100 churn_seconds=10 frames=20000
fi
need_root
build_release

ns="np-bench-hostile"
ip netns add "$ns"; BENCH_NAMESPACES+=("$ns")
ip -n "$ns" link set lo up
sock="$BENCH_TMP/np.sock" token="$BENCH_TMP/ws-token"
ip netns exec "$ns" env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/bus \
  NETPILOT_SECRETS_FILE="$BENCH_TMP/secrets.json" \
  "$NETPILOT" daemon --socket "$sock" --websocket 127.0.0.1:7878 --token-file "$token" \
  < "$BENCH_TMP/hold" > /dev/null 2> "$BENCH_TMP/daemon.log" 9<&- &
daemon=$!; BENCH_PIDS+=($daemon)
waited=0
until grep -q "listening on" "$BENCH_TMP/daemon.log"; do
  sleep 0.1; waited=$((waited + 1))
  [ $waited -lt 100 ] || { cat "$BENCH_TMP/daemon.log" >&2; exit 1; }
done
bench() { ip netns exec "$ns" "$TARGET_DIR/release/np-daemon-bench" "$@"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$daemon/status"; }
fds() { ls "/proc/$daemon/fd" | wc -l; }

rss0=$(rss) fds0=$(fds)
echo "hostile clients…" >&2
h=$(bench hostile --socket "$sock" --websocket 127.0.0.1:7878 --clients "$hostile" --seconds 5)
sleep 1
rss1=$(rss) fds1=$(fds)
echo "churn: $churn clients for $churn_seconds s…" >&2
c=$(bench churn --socket "$sock" --clients "$churn" --seconds "$churn_seconds")
sleep 2
rss2=$(rss) fds2=$(fds)
echo "fuzz: $frames frames…" >&2
f=$(bench fuzz --socket "$sock" --websocket 127.0.0.1:7878 --token "$(cat "$token")" --frames "$frames" --seed 1)
sleep 2
kill -0 "$daemon" 2>/dev/null || { echo "the daemon died" >&2; cat "$BENCH_TMP/daemon.log" >&2; exit 1; }
rss3=$(rss) fds3=$(fds)
python3 - "$h" "$c" "$f" "$rss0" "$fds0" "$rss1" "$fds1" "$rss2" "$fds2" "$rss3" "$fds3" <<'PY'
import json, sys
h, c, f = (json.loads(a) for a in sys.argv[1:4])
rss0, fds0, rss1, fds1, rss2, fds2, rss3, fds3 = (int(a) for a in sys.argv[4:12])
mib = lambda kib: f"{kib / 1024:.1f} MiB"
print("| run | figures | daemon RSS | daemon open files |")
print("|---|---|---|---|")
print(f"| start | | {mib(rss0)} | {fds0} |")
print(f"| {h['clients']} hostile clients | status p50/p99 alone {h['alone_p50_ms']:.2f}/{h['alone_p99_ms']:.2f} ms, beside them {h['beside_p50_ms']:.2f}/{h['beside_p99_ms']:.2f} ms; {h['closed_by_the_daemon']} of {h['clients']} closed by the daemon 15 s later | {mib(rss1)} | {fds1} |")
print(f"| churn, {c['clients']} clients at once | {c['calls']:,} calls, {c['failed']} failed | {mib(rss2)} | {fds2} |")
print(f"| fuzz, seed {f['seed']} | {f['frames']:,} frames in {f['seconds']} s, {f['unanswered']} unanswered; the daemon still running | {mib(rss3)} | {fds3} |")
bad = []
if c["failed"]: bad.append("churn calls failed")
if f["unanswered"]: bad.append("fuzz frames unanswered")
# Subscribers that never read are closed at their bound (they were sent events); the
# half-line and no-handshake clients at 10 s.
if h["closed_by_the_daemon"] < (2 * h["clients"]) // 3: bad.append("hostile clients left open")
if fds3 > fds0 + 2: bad.append(f"open files {fds0} -> {fds3}")
if bad:
    print("FAILED: " + ", ".join(bad), file=sys.stderr)
    sys.exit(1)
PY
