#!/usr/bin/env python3
"""Holds COUNT established loopback TCP connections (both ends) in one process.

Usage: hold.py PORT COUNT. Listens on 127.0.0.1:PORT, connects to itself COUNT times,
accepts every connection, prints "ready", then sleeps until stdin closes. Sixteen of these
make the benchmark's N connections held by 16 processes.
"""
import resource
import socket
import sys

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
port, count = int(sys.argv[1]), int(sys.argv[2])
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(4096)
held = []
batch = 512
for start in range(0, count, batch):
    n = min(batch, count - start)
    for _ in range(n):
        held.append(socket.create_connection(("127.0.0.1", port)))
    for _ in range(n):
        held.append(listener.accept()[0])
print("ready", flush=True)
sys.stdin.read()
