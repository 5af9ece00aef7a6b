#!/usr/bin/env python3
"""A process that holds known sockets for netpilot's kernel tests.

Usage: holder.py NAME. Sets its process name (comm) to NAME, prints "ready", then obeys one
command per line on stdin and answers one line on stdout:

  listen tcp|tcp6|tcp6only ADDR PORT  -> "ok PORT"   (accepts, reads and counts in the background)
  bind udp|udp6 ADDR PORT             -> "ok PORT"
  connect tcp|tcp6|udp|udp6 ADDR PORT -> "ok ID LOCALPORT"
  send ID N                           -> "ok N"      (N bytes, all written)
  close ID                            -> "ok"
  received                            -> "ok BYTES"  (read so far from accepted connections)
  udp udp|udp6 ADDR PORT              -> "ok ID PORT" (bound, unconnected; reads and counts in the background)
  datagrams ID SIZE COUNT [ADDR PORT] -> "ok COUNT"  (COUNT datagrams of SIZE bytes; to ADDR PORT when given)
  udpreceived                         -> "ok BYTES DATAGRAMS" (read so far by every UDP socket)
  accepted                            -> "ok COUNT"  (connections accepted so far)

It exits when stdin closes. Ports may be 0 (the kernel picks one).
"""
import ctypes
import socket
import sys
import threading

PR_SET_NAME = 15
SO_RCVBUFFORCE = 33

def set_name(name):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME)")

FAMILIES = {"tcp": (socket.AF_INET, socket.SOCK_STREAM), "tcp6": (socket.AF_INET6, socket.SOCK_STREAM),
            "tcp6only": (socket.AF_INET6, socket.SOCK_STREAM),
            "udp": (socket.AF_INET, socket.SOCK_DGRAM), "udp6": (socket.AF_INET6, socket.SOCK_DGRAM)}

lock = threading.Lock()
received = 0
accepted = 0
udp_bytes = 0
udp_datagrams = 0
keep = []          # every socket stays open until we exit
connections = {}   # id -> socket

def make(kind):
    family, type_ = FAMILIES[kind]
    s = socket.socket(family, type_)
    if kind == "tcp6only":
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    return s

def drain(conn):
    global received
    while True:
        data = conn.recv(1 << 16)
        if not data:
            conn.close()
            return
        with lock:
            received += len(data)

def read_datagrams(sock):
    global udp_bytes, udp_datagrams
    while True:
        try:
            data = sock.recv(1 << 16)
        except OSError:
            return
        with lock:
            udp_bytes += len(data)
            udp_datagrams += 1

def accept_forever(listener):
    global accepted
    while True:
        conn, _ = listener.accept()
        with lock:
            accepted += 1
            keep.append(conn)
        threading.Thread(target=drain, args=(conn,), daemon=True).start()

def main():
    set_name(sys.argv[1])
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            reply = obey(words[0], words[1:])
        except OSError as e:
            reply = f"error {e}"
        print(reply, flush=True)

def obey(command, args):
    if command == "listen":
        s = make(args[0])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args[1], int(args[2])))
        s.listen(1024)
        keep.append(s)
        threading.Thread(target=accept_forever, args=(s,), daemon=True).start()
        reply = f"ok {s.getsockname()[1]}"
    elif command == "bind":
        s = make(args[0])
        s.bind((args[1], int(args[2])))
        keep.append(s)
        reply = f"ok {s.getsockname()[1]}"
    elif command == "connect":
        s = make(args[0])
        s.connect((args[1], int(args[2])))
        ident = max(connections, default=0) + 1
        connections[ident] = s
        reply = f"ok {ident} {s.getsockname()[1]}"
    elif command == "send":
        connections[int(args[0])].sendall(b"x" * int(args[1]))
        reply = f"ok {args[1]}"
    elif command == "close":
        connections.pop(int(args[0])).close()
        reply = "ok"
    elif command == "udp":
        s = make(args[0])
        # Room for a burst (root may exceed rmem_max): tests count datagrams that arrive,
        # and a full queue would drop some after the counter saw them.
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        s.bind((args[1], int(args[2])))
        ident = max(connections, default=0) + 1
        connections[ident] = s
        threading.Thread(target=read_datagrams, args=(s,), daemon=True).start()
        reply = f"ok {ident} {s.getsockname()[1]}"
    elif command == "datagrams":
        s, size, count = connections[int(args[0])], int(args[1]), int(args[2])
        payload = b"x" * size
        for _ in range(count):
            if len(args) > 3:
                s.sendto(payload, (args[3], int(args[4])))
            else:
                s.send(payload)
        reply = f"ok {count}"
    elif command == "udpreceived":
        with lock:
            reply = f"ok {udp_bytes} {udp_datagrams}"
    elif command == "received":
        with lock:
            reply = f"ok {received}"
    elif command == "accepted":
        with lock:
            reply = f"ok {accepted}"
    else:
        reply = f"error unknown command {command}"
    return reply

if __name__ == "__main__":
    main()
