#!/usr/bin/env bash
# Benchmark: `netpilot connections --json` against `ss -tanp` and against the floor (one
# sock_diag dump plus one readlink of every fd under /proc, timed alone by np-floor), with
# N established loopback connections (2N sockets) held by 16 processes in a namespace.
#
#   sudo scripts/bench/connections.sh            # N = 1,000, 10,000 and 50,000
#   sudo scripts/bench/connections.sh 1000 5000  # other sizes
#   sudo scripts/bench/connections.sh --quick    # N = 1,000, few runs (CI's smoke test)
#
# Prints a Markdown table of medians and the ratios the issue sets targets for:
# netpilot / ss (≤ 0.12 at N = 50,000) and netpilot / floor (≤ 1.3).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap finish EXIT
trap 'exit 130' INT TERM

sizes=(1000 10000 50000)
runs=""
if [ "${1:-}" = --quick ]; then
  sizes=(1000); runs=3; shift
fi
[ $# -gt 0 ] && sizes=("$@")

need_root
ensure_hyperfine
build_release

results="$BENCH_TMP/results.md"
printf '| N | sockets | netpilot | ss -tanp | floor: dump | floor: readlink | netpilot / ss | netpilot / floor |\n' > "$results"
printf '|---|---|---|---|---|---|---|---|\n' >> "$results"
for n in "${sizes[@]}"; do
  ns="np-bench-$n"
  echo "holding $n connections in $ns…" >&2
  hold_connections "$ns" "$n"
  sockets=$(ip netns exec "$ns" "$FLOOR" dump)
  # ss is quadratic: fewer runs where one takes seconds.
  r=${runs:-$([ "$n" -ge 50000 ] && echo 5 || echo 10)}
  json="$BENCH_TMP/$n.json"
  ip netns exec "$ns" hyperfine --style basic --shell=none --output=null --warmup 1 --runs "$r" \
    --export-json "$json" \
    -n netpilot "$NETPILOT connections --json" \
    -n ss "ss -tanp" \
    -n dump "$FLOOR dump" \
    -n readlink "$FLOOR readlink" >&2
  python3 - "$json" "$n" "$sockets" >> "$results" <<'PY'
import json, sys
runs = {r["command"]: r["median"] for r in json.load(open(sys.argv[1]))["results"]}
n, sockets = sys.argv[2], sys.argv[3]
ms = lambda s: f"{s * 1000:.1f} ms"
floor = runs["dump"] + runs["readlink"]
print(f"| {int(n):,} | {int(sockets):,} | {ms(runs['netpilot'])} | {ms(runs['ss'])} | {ms(runs['dump'])} "
      f"| {ms(runs['readlink'])} | {runs['netpilot'] / runs['ss']:.3f} | {runs['netpilot'] / floor:.2f} |")
PY
  cleanup
done
echo
cat "$results"
