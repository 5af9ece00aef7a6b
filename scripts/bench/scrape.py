"""Scrapes http://ADDR/metrics ROUNDS times and, meanwhile, asks the daemon's Unix socket
for `network.status` over and over (from another process: one interpreter's lock would
measure itself): the latency of both, and of the status calls alone before. Prints one
JSON object.

    python3 scrape.py 127.0.0.1:9782 /path/to/netpilot.sock 200
"""
import http.client
import json
import multiprocessing
import socket
import sys
import time

address, unix_path, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, port = address.rsplit(":", 1)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def scrape():
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    started = time.perf_counter()
    connection.request("GET", "/metrics", headers={"Accept": "application/openmetrics-text;version=1.0.0"})
    body = connection.getresponse().read()
    took = time.perf_counter() - started
    connection.close()
    return took, len(body)


def status_calls(stop, results):
    took = []
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(unix_path)
        reader = s.makefile("rb")
        n = 0
        while not stop.is_set():
            n += 1
            started = time.perf_counter()
            s.sendall(b'{"id": %d, "method": "network.status"}\n' % n)
            reader.readline()
            took.append(time.perf_counter() - started)
            time.sleep(0.002)
    results.put(took)


def start_status_calls():
    stop, results = multiprocessing.Event(), multiprocessing.Queue()
    worker = multiprocessing.Process(target=status_calls, args=(stop, results))
    worker.start()
    return stop, results, worker


def finish(stop, results, worker):
    stop.set()
    took = results.get()
    worker.join()
    return took


calls = start_status_calls()
time.sleep(3)
alone = finish(*calls)
calls = start_status_calls()
time.sleep(0.2)
scrapes, size = [], 0
for _ in range(rounds):
    t, size = scrape()
    scrapes.append(t)
took = finish(*calls)
ms = lambda s: round(s * 1000, 3)
print(json.dumps({
    "scrape_p50_ms": ms(percentile(scrapes, 0.5)),
    "scrape_p99_ms": ms(percentile(scrapes, 0.99)),
    "scrape_bytes": size,
    "status_alone_p99_ms": ms(percentile(alone, 0.99)),
    "status_while_scraped_p99_ms": ms(percentile(took, 0.99)),
    "status_calls": len(alone) + len(took),
}))
