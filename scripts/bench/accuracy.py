#!/usr/bin/env python3
"""Traffic accuracy across a veth pair between two namespaces (never loopback: there both
ends live on one host and attribution tools double-count or drop one side).

Usage: accuracy.py NETPILOT HOLDER BYTES. np-source in namespace B sends BYTES at full speed
to np-sink in namespace A; `netpilot traffic` runs in each namespace. Prints one line: bytes
charged to each process against bytes sent, and the CPU netpilot used meanwhile.
"""
import json
import os
import subprocess
import sys
import time

netpilot, holder, sent = sys.argv[1], sys.argv[2], int(sys.argv[3])
hz = os.sysconf("SC_CLK_TCK")
started = []

def ip(*args):
    subprocess.run(["ip", *args], check=True)

def spawn(ns, *argv, **kwargs):
    process = subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kwargs)
    started.append(process)
    return process

class Holder:
    def __init__(self, ns, name):
        self.process = spawn(ns, "python3", holder, name, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"

    def call(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline().split()
        assert reply and reply[0] == "ok", reply
        return reply[1:]

def ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])

def last(path, name, field):
    rows = [p for line in open(path) for p in json.loads(line)["processes"] if p["name"] == name]
    return rows[-1][field] if rows else 0

tmp = os.environ.get("BENCH_TMP", "/tmp")
try:
    for ns in ("np-acc-a", "np-acc-b"):
        ip("netns", "add", ns)
        ip("-n", ns, "link", "set", "lo", "up")
    ip("-n", "np-acc-a", "link", "add", "np0", "type", "veth", "peer", "name", "np1", "netns", "np-acc-b")
    ip("-n", "np-acc-a", "addr", "add", "10.77.0.1/24", "dev", "np0")
    ip("-n", "np-acc-b", "addr", "add", "10.77.0.2/24", "dev", "np1")
    ip("-n", "np-acc-a", "link", "set", "np0", "up")
    ip("-n", "np-acc-b", "link", "set", "np1", "up")
    sink, source = Holder("np-acc-a", "np-sink"), Holder("np-acc-b", "np-source")
    sink.call("listen tcp 10.77.0.1 7100")
    connection = source.call("connect tcp 10.77.0.1 7100")[0]
    meters = {}
    for ns, name in (("np-acc-a", "sink"), ("np-acc-b", "source")):
        out = open(f"{tmp}/{name}.jsonl", "w")
        meters[name] = spawn(ns, netpilot, "traffic", "--interval", "0.5", "--json", stdout=out)
    time.sleep(2)
    before, t0 = ticks(meters["sink"].pid), time.monotonic()
    source.call(f"send {connection} {sent}")
    while int(sink.call("received")[0]) < sent:
        time.sleep(0.05)
    seconds = time.monotonic() - t0
    time.sleep(2)
    used = (ticks(meters["sink"].pid) - before) / hz / (seconds + 2) * 100
    rx = last(f"{tmp}/sink.jsonl", "np-sink", "rxBytes")
    tx = last(f"{tmp}/source.jsonl", "np-source", "txBytes")
    print(f"sent {sent:,} B in {seconds:.2f} s ({sent / seconds / 1e6:.0f} MB/s); charged to np-sink "
          f"{rx:,} B ({rx / sent * 100:.3f} %), to np-source {tx:,} B ({tx / sent * 100:.3f} %); "
          f"netpilot used {used:.1f} % of a core meanwhile")
finally:
    for process in started:
        process.kill()
        process.wait()
    for ns in ("np-acc-a", "np-acc-b"):
        subprocess.run(["ip", "netns", "delete", ns], stderr=subprocess.DEVNULL)
