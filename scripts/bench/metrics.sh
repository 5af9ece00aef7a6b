#!/usr/bin/env bash
# Benchmark: the daemon's /metrics with N established connections (2N sockets) in its
# namespace. A scrape only encodes the last sample, so it is measured apart from the
# sample (interfaces, sockets by state, per-process bytes: the traffic meter), which runs
# on a thread of its own every second here. Reference tools in the same run, on the same
# sockets: `ss -tan` (a dump) and `ss -tanp` (a dump with processes).
#
#   sudo scripts/bench/metrics.sh           # N = 10,000 (the issue's target: a scrape < 5 ms)
#   sudo scripts/bench/metrics.sh 50000     # another size
#   sudo scripts/bench/metrics.sh --quick   # N = 1,000, few rounds (CI's smoke test)
#
# Prints a Markdown table: the scrape's p50/p99 and size, the sample's median and worst,
# the two ss runs, and a status call's p99 on the Unix socket alone and while scraped.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
trap finish EXIT
trap 'exit 130' INT TERM

n=10000 rounds=500 runs=10 watch=15
if [ "${1:-}" = --quick ]; then
  n=1000 rounds=50 runs=3 watch=4; shift
fi
[ $# -gt 0 ] && n=$1

need_root
ensure_hyperfine
build_release

ns="np-bench-metrics"
echo "holding $n connections in $ns…" >&2
hold_connections "$ns" "$n"
sock="$BENCH_TMP/np.sock"
ip netns exec "$ns" env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/bus \
  "$NETPILOT" daemon --socket "$sock" --metrics --metrics-interval 1 \
  < "$BENCH_TMP/hold" > /dev/null 2> "$BENCH_TMP/daemon.log" 9<&- &
BENCH_PIDS+=($!)
waited=0
until grep -q "metrics at" "$BENCH_TMP/daemon.log"; do
  sleep 0.1; waited=$((waited + 1))
  [ $waited -lt 100 ] || { cat "$BENCH_TMP/daemon.log" >&2; exit 1; }
done

scrape() { ip netns exec "$ns" curl -sf http://127.0.0.1:9782/metrics; }
# The sample's own duration, read once a second: the first samples warm the meter.
samples=()
for _ in $(seq "$watch"); do
  sleep 1
  samples+=("$(scrape | awk '/^netpilot_host_sample_duration_seconds / {print $2}')")
done
sockets=$(scrape | awk '/^netpilot_sockets\{protocol="tcp",state="established"\}/ {print $2}')
echo "sockets established (as the daemon counted them): $sockets" >&2
scraped=$(ip netns exec "$ns" python3 "$BENCH_DIR/scrape.py" 127.0.0.1:9782 "$sock" "$rounds")
json="$BENCH_TMP/ss.json"
ip netns exec "$ns" hyperfine --style basic --shell=none --output=null --warmup 1 --runs "$runs" \
  --export-json "$json" -n "ss -tan" "ss -tan" -n "ss -tanp" "ss -tanp" >&2
python3 - "$json" "$n" "$scraped" "${samples[@]}" <<'PY'
import json, statistics, sys
runs = {r["command"]: r["median"] for r in json.load(open(sys.argv[1]))["results"]}
n, scraped = int(sys.argv[2]), json.loads(sys.argv[3])
samples = sorted(float(s) for s in sys.argv[4:][3:] if s)  # the first three warm up
ms = lambda s: f"{s * 1000:.2f} ms"
median = statistics.median(samples)
print("| N | scrape p50 | scrape p99 | scrape size | sample median | sample worst | ss -tan | ss -tanp | sample / ss -tanp | status p99 alone | status p99 while scraped |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
print(f"| {n:,} | {scraped['scrape_p50_ms']:.2f} ms | {scraped['scrape_p99_ms']:.2f} ms | {scraped['scrape_bytes']:,} B "
      f"| {ms(median)} | {ms(samples[-1])} | {ms(runs['ss -tan'])} | {ms(runs['ss -tanp'])} "
      f"| {median / runs['ss -tanp']:.2f} | {scraped['status_alone_p99_ms']:.2f} ms | {scraped['status_while_scraped_p99_ms']:.2f} ms |")
PY
