# Shared helpers of the benchmark scripts: namespaces holding N idle loopback connections.
# Sourced, not run. Everything started here is stopped by `cleanup`; trap `finish` on EXIT
# (it also removes the scratch directory).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
NETPILOT="$TARGET_DIR/release/netpilot"
FLOOR="$TARGET_DIR/release/np-floor"
BENCH_NAMESPACES=()
BENCH_PIDS=()
# Holders read stdin from this FIFO and exit at end of file: when this script exits for
# any reason, its descriptor 9 (the only writer) closes and they all go.
BENCH_TMP=$(mktemp -d)
mkfifo "$BENCH_TMP/hold"
exec 9<>"$BENCH_TMP/hold"

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "benchmarks create network namespaces: run as root" >&2
    exit 1
  fi
}

build_release() {
  echo "building netpilot and np-floor (release)…" >&2
  cargo build --quiet --release --locked --manifest-path "$REPO/Cargo.toml" -p netpilot -p netpilot-bench
}

ensure_hyperfine() {
  command -v hyperfine >/dev/null && return
  echo "installing hyperfine…" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
}

# hold_connections NS N: a fresh namespace NS where 16 processes hold N established
# loopback connections (2N sockets), N/16 each.
hold_connections() {
  local ns=$1 n=$2 per=$(( ($2 + 15) / 16 )) i
  ip netns add "$ns"
  BENCH_NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
  # All ports are ephemeral ports, except the 16 the holders listen on: a connection
  # must not take one of those as its source port before its holder binds it.
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
    net.ipv4.ip_local_reserved_ports="20000-20015"
  for i in $(seq 0 15); do
    ip netns exec "$ns" python3 "$BENCH_DIR/hold.py" $((20000 + i)) "$per" \
      < "$BENCH_TMP/hold" > "$BENCH_TMP/ready.$ns.$i" 9<&- &
    BENCH_PIDS+=($!)
  done
  for i in $(seq 0 15); do
    local waited=0
    until grep -q ready "$BENCH_TMP/ready.$ns.$i" 2>/dev/null; do
      sleep 0.2
      waited=$((waited + 1))
      if [ $waited -gt 1500 ]; then echo "holder $i of $ns never got ready" >&2; exit 1; fi
    done
  done
}

# start_trickle NS: a connection to the first holder of NS sending 100 bytes every 100 ms,
# so TCP is never quiet there (stopped with the holders).
start_trickle() {
  ip netns exec "$1" python3 -c '
import socket, time
s = socket.create_connection(("127.0.0.1", 20000))
while True:
    s.sendall(b"x" * 100)
    time.sleep(0.1)
' < "$BENCH_TMP/hold" 9<&- &
  BENCH_PIDS+=($!)
}

cleanup() {
  local pid ns
  for pid in "${BENCH_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${BENCH_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${BENCH_NAMESPACES[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
  BENCH_PIDS=()
  BENCH_NAMESPACES=()
  rm -f "$BENCH_TMP"/ready.*
}

# On EXIT: what `cleanup` stops, and the scratch directory.
finish() {
  cleanup
  rm -rf "$BENCH_TMP"
}

# cpu_ticks PID: user + system clock ticks the process has used.
cpu_ticks() {
  awk '{print $14 + $15}' "/proc/$1/stat"
}
