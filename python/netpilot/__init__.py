"""A client of the netpilot daemon, for robot code: keep the robot's WiFi beside the internet.

    import netpilot

    netpilot.configure_device_network("Cozmo_A1B2C3", password="from-the-robot's-face")
    with netpilot.device_link("cozmo") as link:
        print("robot at", link["address"], "answers in", link["probeMs"], "ms")
        ...  # talk to the robot (172.31.1.1); the internet still works

It speaks the daemon's protocol v1 (docs/protocol.md) over its Unix socket: one JSON object
per line. Errors are :class:`NetpilotError` with the protocol's error ``code``.
Pure Python, standard library only. :mod:`netpilot.pycozmo` keeps the names of PyCozmo's
network design (``configure_cozmo_network``, ``connect``...) on top of this module.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import itertools
import json
import os
import socket
import time
from typing import Any, Deque, Dict, Iterable, Iterator, List, Optional, Union

__all__ = [
    "Client",
    "NetpilotError",
    "configure_device_network",
    "default_socket",
    "device_link",
    "device_status",
]

SYSTEM_SOCKET = "/run/netpilot/netpilot.sock"

#: How long ``Client(retry_for=...)`` first waits before trying a daemon again, and the
#: longest it waits between two tries (the wait doubles from one to the other).
RETRY_FIRST_WAIT = 0.1
RETRY_LONGEST_WAIT = 2.0

# What a daemon that is (re)starting looks like: its socket is not there yet (ENOENT), or
# is there with no one listening yet, or any more (ECONNREFUSED). Anything else (EACCES,
# ENOTDIR...) does not go away by waiting, so it is reported at once.
_RETRIED_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENOENT})

Event = Dict[str, Any]


class NetpilotError(Exception):
    """A request the daemon refused, or a daemon that cannot be reached.

    ``code`` is the protocol's error code (``not-found``, ``no-free-radio``,
    ``nm-unavailable``, ``daemon-unavailable``, ...); ``hint`` says what to do next.
    Neither ever holds a password: the daemon never repeats one, and this client never
    puts one in a message.
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
    meanwhile are kept for :meth:`next_event` and :meth:`events`.

    ``timeout`` bounds the wait for each answer. ``retry_for`` (seconds, default 0) keeps
    trying a daemon that is not there yet, as while it restarts: every 0.1 s at first,
    twice as long each time up to 2 s, until that time has passed; then the same
    ``daemon-unavailable`` error as without it.
    """

    def __init__(
        self, path: Optional[str] = None, timeout: float = 90.0, retry_for: float = 0.0
    ) -> None:
        if retry_for < 0:
            raise NetpilotError(
                "invalid-argument",
                f"retry_for is a number of seconds, 0 or more (not {retry_for})",
                "give 0 to try once, or how long a restarting daemon may take (e.g. 10)",
            )
        self.path = path or default_socket()
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._pending: Deque[Event] = collections.deque()
        self._socket = _connect(self.path, timeout, retry_for)
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
                    self._pending.append(message)
                    continue
                if message.get("success"):
                    result: Dict[str, Any] = message.get("result") or {}
                    return result
                error = message.get("error") or {}
                raise NetpilotError(
                    error.get("code", "protocol"),
                    error.get("message", message.get("message", "refused")),
                    error.get("hint"),
                )
        except socket.timeout:
            raise _timed_out(f"the daemon did not answer {method} in {self.timeout:g} s") from None
        except OSError as error:
            raise NetpilotError("io", f"lost the netpilot daemon: {error}") from None

    # --- device links (docs/protocol.md, "Device links") ---------------------------------

    def up(self, name: str) -> Dict[str, Any]:
        """``device.up``: joins the device link's network, waits until the device answers
        (up to 30 s), and returns the link's status; the daemon supervises it from then on.
        A link already up is left as it is."""
        status: Dict[str, Any] = self.call("device.up", name=name)["device"]
        return status

    def down(self, name: str) -> Dict[str, Any]:
        """``device.down``: leaves the device's network and stops supervising it; the
        profile and the saved password stay for next time. Returns ``{"done": [step...],
        "failed": [{"step", "error"}...]}``: every step is tried, and one that failed is
        reported there rather than raised, so the others are not lost."""
        return self.call("device.down", name=name)

    def test(self, name: str, internet: Optional[str] = None) -> Dict[str, Any]:
        """``device.test``: proves the link left the internet alone (the default route is
        not the device's, the device answers on its link, ``internet`` — ``HOST:PORT``,
        default the daemon's ``--internet-probe`` — answers on the other). Returns
        ``{"passed", "checks": [{"name", "passed", "detail"}...]}``; a failed check is a
        result, not an exception."""
        params: Dict[str, Any] = {"name": name}
        if internet is not None:
            params["internet"] = internet
        return self.call("device.test", **params)

    def reset(self, name: str) -> Dict[str, Any]:
        """``device.reset``: as :meth:`down`, and the profile and the saved password are
        deleted too (``netpilot device reset NAME``). Returns the steps as :meth:`down`."""
        return self.call("device.reset", name=name)

    # --- events ----------------------------------------------------------------------------

    def events(
        self,
        services: Union[str, Iterable[str]] = ("device", "internet"),
        idle_timeout: Optional[float] = None,
    ) -> Iterator[Event]:
        """Subscribes this connection to ``services`` at once (so nothing that happens after
        this call is missed) and returns an iterator of the events that arrive on it,
        ``{"service", "data"}``, starting with those the daemon sends on subscribing (each
        device link's state; the current ``network`` state).

        By default the device links' events and the internet's (``up``, ``lost``,
        ``moved``, ``portal``). Any service the daemon has can be named (``device``,
        ``internet``, ``network``, ``network.credentials``, ``monitor.traffic``...): the
        daemon checks the names, and
        its error lists the ones it knows. The iterator waits as long as it takes for the
        next event (a link that stays up says nothing for hours) unless ``idle_timeout``
        seconds are given. Events keep coming on this connection until it is closed, so
        give the loop a :class:`Client` of its own.
        """
        names = [services] if isinstance(services, str) else list(services)
        if not names:
            raise NetpilotError(
                "invalid-argument",
                "events() needs at least one service to subscribe to",
                'e.g. client.events(["device"]) or client.events(["device", "network"])',
            )
        self.call("subscribe", services=names)
        return self._follow(idle_timeout)

    def _follow(self, idle_timeout: Optional[float]) -> Iterator[Event]:
        while True:
            yield self._next_event(idle_timeout)

    def next_event(self) -> Event:
        """The next event (``{"service", "data"}``), waiting for one up to ``timeout``."""
        return self._next_event(self.timeout)

    def _next_event(self, wait: Optional[float]) -> Event:
        if self._pending:
            return self._pending.popleft()
        self._socket.settimeout(wait)
        try:
            return self._receive()
        except socket.timeout:
            raise _timed_out(f"no event came from the daemon in {wait:g} s") from None
        except OSError as error:
            raise NetpilotError("io", f"lost the netpilot daemon: {error}") from None
        finally:
            if self._socket.fileno() != -1:
                self._socket.settimeout(self.timeout)

    def _send(self, request_id: int, method: str, params: Dict[str, Any]) -> None:
        # Its own frame: the line (it can hold a password) does not outlive the send.
        line = json.dumps({"id": request_id, "method": method, "params": params})
        self._socket.sendall(line.encode("utf-8") + b"\n")

    def _receive(self) -> Dict[str, Any]:
        line = self._lines.readline()
        if not line:
            raise NetpilotError("io", "the netpilot daemon closed the connection")
        try:
            message: Dict[str, Any] = json.loads(line)
        except ValueError:
            raise NetpilotError(
                "protocol",
                "the daemon sent a line that is not JSON",
                "is NETPILOT_SOCKET a netpilot daemon's socket?",
            ) from None
        return message


def _connect(path: str, timeout: float, retry_for: float) -> socket.socket:
    """The daemon's socket, connected; a daemon that is not there yet is tried again with
    a doubling wait (0.1 s to 2 s) while ``retry_for`` seconds have not passed."""
    deadline = time.monotonic() + retry_for
    wait = RETRY_FIRST_WAIT
    while True:
        try:
            return _connect_once(path, timeout)
        except OSError as error:
            left = deadline - time.monotonic()
            if error.errno not in _RETRIED_ERRNOS or left <= 0:
                raise _unavailable(path, error, retry_for) from None
            time.sleep(min(wait, left))
            wait = min(wait * 2, RETRY_LONGEST_WAIT)


def _connect_once(path: str, timeout: float) -> socket.socket:
    # A fresh socket each time: one whose connect() failed is not tried again.
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        unix.settimeout(timeout)
        unix.connect(path)
    except BaseException:
        unix.close()
        raise
    return unix


def _unavailable(path: str, error: OSError, retry_for: float) -> NetpilotError:
    tried = f", tried for {retry_for:g} s" if retry_for else ""
    return NetpilotError(
        "daemon-unavailable",
        f"the netpilot daemon is not running (nothing answers on {path}: "
        f"{error.strerror or error}{tried})",
        "start it: sudo netpilot daemon (or sudo systemctl start netpilot)",
    )


def _timed_out(message: str) -> NetpilotError:
    # A socket file that timed out refuses every later read (CPython's SocketIO).
    return NetpilotError("timeout", message, "open a new netpilot.Client to go on")


def _teardown_error(name: str, teardown: Dict[str, Any]) -> Optional[NetpilotError]:
    """The first failed step of ``device.down``/``device.reset`` as an error, if any."""
    failed: List[Dict[str, Any]] = teardown.get("failed") or []
    if not failed:
        return None
    step = failed[0]
    return NetpilotError(
        step["error"]["code"],
        f"taking {name} down: {step['step']} failed: {step['error']['message']}",
        step["error"].get("hint"),
    )


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
    "warnings"}``. The password is kept by the daemon, never returned; without one, a
    password saved before for this link is kept. ``auto_connect`` lets NetworkManager join
    the device's network by itself when it is in range (the daemon then supervises it)."""
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
        status = client.up(name)
    failed = True
    try:
        yield status
        failed = False
    finally:
        # A connection of its own: the one above may be long gone.
        try:
            with Client(socket_path) as client:
                teardown = client.down(name)
        except NetpilotError:
            if not failed:
                raise
        else:
            error = _teardown_error(name, teardown)
            if error and not failed:
                raise error
