"""The daemon the tests talk to: the one at $NETPILOT_SOCKET (the WiFi lab passes its own),
else a `netpilot daemon` started here ($NETPILOT_BIN, else the workspace's debug build)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import IO, Iterator

import pytest

try:
    import netpilot  # noqa: F401  (installed: test the install)
except ImportError:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

IN_LAB = os.environ.get("NETPILOT_LAB") == "1"
REPO = pathlib.Path(__file__).resolve().parents[2]

lab_only = pytest.mark.skipif(not IN_LAB, reason="needs the WiFi lab (lab/run)")
host_only = pytest.mark.skipif(IN_LAB, reason="checks the daemon without NetworkManager")


def daemon_binary() -> str:
    binary = os.environ.get("NETPILOT_BIN", str(REPO / "target" / "debug" / "netpilot"))
    if not os.path.exists(binary):
        pytest.fail(f"no netpilot binary at {binary}: cargo build, or set NETPILOT_BIN")
    return binary


def start_daemon(path: str, log: IO[str]) -> "subprocess.Popen[bytes]":
    """A `netpilot daemon` on the socket ``path``, its log in ``log``; not waited for."""
    return subprocess.Popen(
        [daemon_binary(), "daemon", "--socket", path], stdout=subprocess.DEVNULL, stderr=log
    )


def wait_for_socket(daemon: "subprocess.Popen[bytes]", path: str, log: IO[str]) -> None:
    """Until the daemon's socket exists (20 s at most), or fails the test with its log."""
    deadline = time.monotonic() + 20
    while not os.path.exists(path):
        if daemon.poll() is not None or time.monotonic() > deadline:
            daemon.kill()
            log.seek(0)
            pytest.fail(f"the daemon did not start: {log.read()}")
        time.sleep(0.05)


def stop_daemon(daemon: "subprocess.Popen[bytes]") -> None:
    daemon.terminate()
    try:
        daemon.wait(10)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait(10)


@pytest.fixture
def short_dir() -> Iterator[str]:
    """A directory with a short path: a Unix socket's path has at most 107 bytes, and
    pytest's tmp_path can be longer than that."""
    with tempfile.TemporaryDirectory(prefix="np-py-") as directory:
        yield directory


@pytest.fixture(scope="session")
def socket_path() -> Iterator[str]:
    given = os.environ.get("NETPILOT_SOCKET")
    if given:
        yield given
        return
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "netpilot.sock")
        with open(os.path.join(directory, "daemon.log"), "w+") as log:
            daemon = start_daemon(path, log)
            wait_for_socket(daemon, path, log)
            yield path
            stop_daemon(daemon)
