"""A client of the netpilot daemon, for robot code: keep the robot's WiFi beside the internet.

    import netpilot

    netpilot.configure_device_network("Cozmo_A1B2C3", password="from-the-robot's-face")
    with netpilot.device_link("cozmo") as link:
        print("robot at", link["address"], "answers in", link["probeMs"], "ms")
        ...  # talk to the robot (172.31.1.1); the internet still works

It speaks the daemon's protocol v1 (docs/protocol.md) over its Unix socket: one JSON object
per line. Errors are :class:`NetpilotError` with the protocol's error ``code``.
Pure Python, standard library only.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
from typing import Any, Dict, Iterator, Optional

__all__ = [
    "Client",
    "NetpilotError",
    "configure_device_network",
    "default_socket",
    "device_link",
    "device_status",
]

SYSTEM_SOCKET = "/run/netpilot/netpilot.sock"


class NetpilotError(Exception):
    """A request the daemon refused, or a daemon that cannot be reached.

    ``code`` is the protocol's error code (``not-found``, ``no-free-radio``,
    ``nm-unavailable``, ``daemon-unavailable``, ...); ``hint`` says what to do next.
    """

    def __init__(self, code: str, message: str, hint: Optional[str] = None):
        super().__init__(f"{message} (hint: {hint})" if hint else message)
        self.code = code
        self.message = message
        self.hint = hint


def default_socket() -> str:
    """As the CLI looks: ``$NETPILOT_SOCKET``, else this user's daemon's socket when it
    exists (root's is the system one), else the system daemon's."""
    if os.environ.get("NETPILOT_SOCKET"):
        return os.environ["NETPILOT_SOCKET"]
    if os.geteuid() != 0:
        runtime = os.environ.get("XDG_RUNTIME_DIR", "/tmp")
        users = os.path.join(runtime, "netpilot", "netpilot.sock")
        if os.path.exists(users):
            return users
    return SYSTEM_SOCKET


class Client:
    """One connection to the daemon. Requests are answered in order; events that arrive
    meanwhile are kept in :attr:`events`."""

    def __init__(self, path: Optional[str] = None, timeout: float = 90.0):
        self.path = path or default_socket()
        self._ids = itertools.count(1)
        self.events: list = []
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._socket.settimeout(timeout)
            self._socket.connect(self.path)
        except OSError as error:
            self._socket.close()
            raise NetpilotError(
                "daemon-unavailable",
                f"the netpilot daemon is not running (nothing answers on {self.path}: {error.strerror})",
                "start it: sudo netpilot daemon (or sudo systemctl start netpilot)",
            ) from None
        self._lines = self._socket.makefile("r", encoding="utf-8")

    def close(self) -> None:
        self._lines.close()
        self._socket.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def call(self, method: str, **params: Any) -> Dict[str, Any]:
        """Sends a request and returns its ``result`` (``{}`` when there is none)."""
        request_id = next(self._ids)
        try:
            self._send(request_id, method, params)
            while True:
                message = self._receive()
                if message.get("id") != request_id:
                    self.events.append(message)
                    continue
                if message.get("success"):
                    return message.get("result") or {}
                error = message.get("error") or {}
                raise NetpilotError(
                    error.get("code", "protocol"),
                    error.get("message", message.get("message", "refused")),
                    error.get("hint"),
                )
        except socket.timeout:
            raise NetpilotError("timeout", f"the daemon did not answer {method} in time") from None
        except OSError as error:
            raise NetpilotError("io", f"lost the netpilot daemon: {error}") from None

    def _send(self, request_id: int, method: str, params: Dict[str, Any]) -> None:
        # Its own frame: the line (it can hold a password) does not outlive the send.
        line = json.dumps({"id": request_id, "method": method, "params": params})
        self._socket.sendall(line.encode("utf-8") + b"\n")

    def next_event(self) -> Dict[str, Any]:
        """The next event (``{"service", "data"}``), waiting for one if need be."""
        if self.events:
            return self.events.pop(0)
        return self._receive()

    def _receive(self) -> Dict[str, Any]:
        line = self._lines.readline()
        if not line:
            raise NetpilotError("io", "the netpilot daemon closed the connection")
        return json.loads(line)


def configure_device_network(
    ssid: str,
    password: str = "",
    auto_connect: bool = True,
    preset: str = "cozmo",
    name: Optional[str] = None,
    interface: Optional[str] = None,
    socket_path: Optional[str] = None,
) -> Dict[str, Any]:
    """Saves a device link to the device's network ``ssid`` (named after the preset unless
    ``name`` is given) on a radio that is not the internet's. Returns ``{"device",
    "warnings"}``. The password is kept by the daemon, never returned."""
    params: Dict[str, Any] = {
        "name": name or preset,
        "ssid": ssid,
        "preset": preset,
        "autoConnect": auto_connect,
    }
    if password:
        params["password"] = password
    if interface:
        params["interface"] = interface
    with Client(socket_path) as client:
        return client.call("device.configure", **params)


def device_status(name: Optional[str] = None, socket_path: Optional[str] = None) -> Dict[str, Any]:
    """The internet link and the device links: ``{"internet", "devices": [...]}``."""
    params = {"name": name} if name else {}
    with Client(socket_path) as client:
        return client.call("device.status", **params)


@contextlib.contextmanager
def device_link(name: str = "cozmo", socket_path: Optional[str] = None) -> Iterator[Dict[str, Any]]:
    """Brings the device link up, waits until the device answers, yields its status, and
    takes the link down on exit (even when the body raises). A step of taking it down
    that fails raises :class:`NetpilotError`, unless the body already raised."""
    with Client(socket_path) as client:
        status = client.call("device.up", name=name)["device"]
    failed = True
    try:
        yield status
        failed = False
    finally:
        # A connection of its own: the one above may be long gone.
        try:
            with Client(socket_path) as client:
                teardown = client.call("device.down", name=name)
        except NetpilotError:
            if not failed:
                raise
        else:
            if teardown.get("failed") and not failed:
                step = teardown["failed"][0]
                raise NetpilotError(
                    step["error"]["code"],
                    f"taking {name} down: {step['step']} failed: {step['error']['message']}",
                    step["error"].get("hint"),
                )
