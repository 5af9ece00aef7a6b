#!/usr/bin/env python3
"""A real QUIC transfer (aioquic) for netpilot's UDP tests.

Usage:
  quic.py server NAME ADDR PORT           serves: each stream asking "N\\n" gets N bytes
  quic.py client NAME ADDR PORT BYTES     fetches BYTES over one stream, then prints
                                          "done STREAM_BYTES SENT RECEIVED" and exits

NAME becomes the process name (prctl), so a test can find its row. SENT and RECEIVED are
the UDP payload bytes this end's socket sent and received (every datagram, handshake and
acknowledgements included): what netpilot must charge to it. The server prints
"listening PORT" once ready and, on SIGTERM or stdin closing, "served SENT RECEIVED".
"""
import asyncio
import ctypes
import datetime
import os
import sys
import tempfile

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamDataReceived

ALPN = ["netpilot-test"]
totals = {"sent": 0, "received": 0}


def set_name(name):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(15, name.encode()[:15], 0, 0, 0)


class Counting:
    """The datagram transport, counting the payload of every datagram sent."""

    def __init__(self, transport):
        self._transport = transport

    def sendto(self, data, addr=None):
        totals["sent"] += len(data)
        self._transport.sendto(data, addr)

    def __getattr__(self, name):
        return getattr(self._transport, name)


class Protocol(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffers = {}
        self.done = asyncio.get_event_loop().create_future()
        self.fetched = 0

    def connection_made(self, transport):
        super().connection_made(Counting(transport))

    def datagram_received(self, data, addr):
        totals["received"] += len(data)
        super().datagram_received(data, addr)

    def quic_event_received(self, event):
        if not isinstance(event, StreamDataReceived):
            return
        if self._quic.configuration.is_client:
            self.fetched += len(event.data)
            if event.end_stream and not self.done.done():
                self.done.set_result(self.fetched)
            return
        request = self.buffers.get(event.stream_id, b"") + event.data
        self.buffers[event.stream_id] = request
        if request.endswith(b"\n"):
            size = int(request)
            self._quic.send_stream_data(event.stream_id, b"q" * size, end_stream=True)
            self.transmit()


def certificate():
    """A self-signed certificate for this run (the client does not verify it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netpilot-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    directory = tempfile.mkdtemp(prefix="np-quic-")
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


async def run_server(address, port):
    configuration = QuicConfiguration(is_client=False, alpn_protocols=ALPN)
    configuration.load_cert_chain(*certificate())
    server = await serve(address, port, configuration=configuration, create_protocol=Protocol)
    print(f"listening {port}", flush=True)
    loop = asyncio.get_event_loop()
    stop = loop.create_future()
    loop.add_reader(sys.stdin, lambda: sys.stdin.readline() or (stop.done() or stop.set_result(None)))
    await stop
    server.close()
    print(f"served {totals['sent']} {totals['received']}", flush=True)


async def run_client(address, port, size):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=ALPN)
    configuration.verify_mode = 0  # ssl.CERT_NONE: a throwaway certificate
    async with connect(address, port, configuration=configuration,
                       create_protocol=Protocol) as client:
        stream = client._quic.get_next_available_stream_id()
        client._quic.send_stream_data(stream, f"{size}\n".encode(), end_stream=True)
        client.transmit()
        fetched = await asyncio.wait_for(client.done, 60)
    # The connection is closed (CONNECTION_CLOSE sent) when the context ends.
    print(f"done {fetched} {totals['sent']} {totals['received']}", flush=True)


def main():
    role, name, address, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    set_name(name)
    if role == "server":
        asyncio.run(run_server(address, port))
    else:
        asyncio.run(run_client(address, port, int(sys.argv[5])))


if __name__ == "__main__":
    main()
