#!/usr/bin/env python3
"""A stand-in for a Cozmo robot, for the lab: PyCozmo's own robot side, on the robot's address.

    ip netns exec aps python3 cozmo_standin.py                      # 172.31.1.1:5551
    python3 cozmo_standin.py --address 127.0.0.1 --port 0          # anywhere (any port)

The protocol is PyCozmo's own server-side connection, ``pycozmo.conn.Connection(server=True)``:
it takes a client's RESET frame as a new session, replacing the one before (a robot talks to
one app at a time), answers with Connect, acknowledges the client's frames, keeps its send
and receive windows. What it lacks to stand in for a robot is added here, with PyCozmo's own
packets and frames (``pycozmo.Frame``, ``pycozmo.protocol_encoder``), nothing of the protocol
written by hand:

- What a robot says once connected, which ``pycozmo.connect()`` waits for
  (``Client.wait_for_robot``: 5 s, then the program exits): its hardware info and firmware
  signature on connecting, its body's info when the client enables it, and its state 30
  times a second once the client has synchronised its clock (SyncTime), as a robot does.
- Out-of-band packets sent out of band: the echo of each ping and the robot's state go in
  robot frames of their own, with no sequence number, acknowledging the client's last
  frame (PyCozmo's docs/protocol.md: "Out of band packets do not get assigned sequence
  IDs"). PyCozmo 0.8.0's server sends them through its sequenced window instead, and its
  client cannot decode such a frame, nor deliver anything after it (the sequence number is
  a hole in its receive window): the first echoed ping ends the session. Its server also
  sends nothing unless it has a packet to send, so without the state nothing acknowledges
  the client's packets: its window fills, its resends outgrow a frame, and it stops pinging.

It prints one line on stdout for each thing that happens, for a test to follow:

    listening 172.31.1.1:5551
    session 172.31.1.100:45711             (a client's RESET: a new session)
    body 172.31.1.100:45711                (enabled: BodyInfo sent, pycozmo sees its robot)
    synced 172.31.1.100:45711              (SyncTime: the robot's state from now on)
    ping 0 from 172.31.1.100:45711         (each ping echoed, with the client's counter)
    disconnected

and runs until SIGTERM or SIGINT (exit 0). It exits 2 when the address cannot be bound
(not this namespace's?), 3 without PyCozmo.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import Any, List, Optional, Tuple

#: A robot's address and port, as PyCozmo's client looks for it (pycozmo.conn.ROBOT_ADDR).
ROBOT_ADDRESS = "172.31.1.1"
ROBOT_PORT = 5551
#: The serial number the stand-in's body reports (Client.serial_number); never 0, which
#: PyCozmo's wait_for_robot takes for "not found yet".
SERIAL = 0x5A1B2C3D
#: Said in the firmware signature: PyCozmo logs the build and compares the version.
BUILD = "NETPILOT-STANDIN"

Address = Tuple[str, int]


def say(line: str) -> None:
    print(line, flush=True)


def peer(address: Optional[Address]) -> str:
    return f"{address[0]}:{address[1]}" if address else "-"


class StandIn:
    """PyCozmo's server-side Connection bound to ``address``, with what a robot adds."""

    def __init__(self, pycozmo: Any, address: Address) -> None:
        self.pycozmo = pycozmo
        self.packets = pycozmo.protocol_encoder
        self.conn = pycozmo.conn.Connection(address, server=True)
        # Connection.start() adds its handlers by attribute: its server's echo of a ping
        # (self.send(pkt), in sequence) becomes an out-of-band one.
        self.conn._on_ping = self._echo_ping
        self.lock = threading.Lock()
        self.body_sent = False
        self.synced_at: Optional[float] = None
        self.stop_flag = threading.Event()
        self.ticker = threading.Thread(target=self._report_state, name="state", daemon=True)
        self.conn.add_handler(self.packets.Connect, self._on_connect)
        self.conn.add_handler(self.packets.Enable, self._on_enable)
        self.conn.add_handler(self.packets.SyncTime, self._on_sync_time)
        self.conn.add_handler(self.packets.Ping, self._on_ping)
        self.conn.add_handler(self.packets.Disconnect, self._on_disconnect)

    @property
    def bound(self) -> Address:
        host, port = self.conn.sock.getsockname()[:2]
        return host, port

    def start(self) -> None:
        self.conn.start()
        self.ticker.start()

    def stop(self) -> None:
        self.stop_flag.set()
        self.ticker.join()
        self.conn.stop()

    def _client(self) -> Optional[Address]:
        # Set by PyCozmo's receive thread when a session starts, None when it ends.
        client: Optional[Address] = self.conn.recv_thread.sender_address
        return client

    def send_out_of_band(self, pkts: List[Any]) -> None:
        """A robot packets frame of ``pkts`` (out-of-band ones: pings, events) to the
        session's client: no sequence number, the client's last frame acknowledged."""
        client = self.conn.send_thread.receiver_address
        if client is None:
            return
        with self.conn.send_thread.lock:
            ack = self.conn.send_thread.last_ack
        declaration = self.pycozmo.protocol_declaration
        oob = declaration.OOB_SEQ
        frame = self.pycozmo.Frame(declaration.FrameType.ROBOT, oob, oob, ack, pkts)
        try:
            self.conn.sock.sendto(frame.to_bytes(), client)
        except OSError:
            pass  # as PyCozmo's own send thread: a frame lost, the next one goes

    def _echo_ping(self, conn: Any, pkt: Any) -> None:
        del conn
        self.send_out_of_band([pkt])

    def _report_state(self) -> None:
        period = 1 / self.pycozmo.robot.FRAME_RATE
        while not self.stop_flag.wait(period):
            with self.lock:
                synced_at = self.synced_at
            if synced_at is None:
                continue
            # Every field given: PyCozmo's RobotState() refuses its own default cliff data.
            state = self.packets.RobotState(
                timestamp=int((time.monotonic() - synced_at) * 1000) % 2**32,
                pose_origin_id=1,
                battery_voltage=4.1,
                cliff_data_raw=(800, 800, 800, 800),
            )
            self.send_out_of_band([state])

    def _on_connect(self, conn: Any, pkt: Any) -> None:
        del conn, pkt
        with self.lock:
            self.body_sent = False
            self.synced_at = None
        say(f"session {peer(self._client())}")
        signature = {
            "version": self.pycozmo.protocol_declaration.FIRMWARE_VERSION,
            "build": BUILD,
        }
        self.conn.send(self.packets.HardwareInfo(serial_number_head=SERIAL))
        self.conn.send(self.packets.FirmwareSignature(signature=json.dumps(signature)))

    def _on_enable(self, conn: Any, pkt: Any) -> None:
        # PyCozmo enables twice ("this repetition seems to trigger BodyInfo"); a body
        # reported twice would start its animation controller twice.
        del conn, pkt
        with self.lock:
            if self.body_sent:
                return
            self.body_sent = True
        self.conn.send(
            self.packets.BodyInfo(serial_number=SERIAL, body_hw_version=5, body_color=2)
        )
        say(f"body {peer(self._client())}")

    def _on_sync_time(self, conn: Any, pkt: Any) -> None:
        del conn, pkt
        with self.lock:
            self.synced_at = time.monotonic()
        say(f"synced {peer(self._client())}")

    def _on_ping(self, conn: Any, pkt: Any) -> None:
        del conn
        say(f"ping {pkt.counter} from {peer(self._client())}")

    def _on_disconnect(self, conn: Any, pkt: Any) -> None:
        del conn, pkt
        with self.lock:
            self.synced_at = None
        say("disconnected")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--address", default=ROBOT_ADDRESS, help="default %(default)s")
    parser.add_argument("--port", type=int, default=ROBOT_PORT, help="default %(default)s; 0: any")
    parser.add_argument("--debug", action="store_true", help="PyCozmo's protocol log on stderr")
    args = parser.parse_args(argv)
    try:
        import pycozmo
    except ImportError as error:
        print(f"cozmo_standin: PyCozmo is not installed ({error}): pip install pycozmo",
              file=sys.stderr)
        return 3
    if args.debug:
        pycozmo.setup_basic_logging(log_level="DEBUG", protocol_log_level="DEBUG")
    try:
        robot = StandIn(pycozmo, (args.address, args.port))
    except OSError as error:
        print(f"cozmo_standin: cannot bind {args.address}:{args.port}: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    robot.start()
    say("listening {}:{}".format(*robot.bound))
    while not stop.wait(0.5):
        pass
    robot.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
