"""The daemon the tests talk to: the one at $NETPILOT_SOCKET (the WiFi lab passes its own),
else a `netpilot daemon` started here ($NETPILOT_BIN, else the workspace's debug build)."""

import os
import pathlib
import subprocess
import sys
import tempfile
import time

import pytest

try:
    import netpilot  # noqa: F401  (installed: test the install)
except ImportError:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

IN_LAB = os.environ.get("NETPILOT_LAB") == "1"
REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def socket_path():
    given = os.environ.get("NETPILOT_SOCKET")
    if given:
        yield given
        return
    binary = os.environ.get("NETPILOT_BIN", str(REPO / "target" / "debug" / "netpilot"))
    if not os.path.exists(binary):
        pytest.fail(f"no netpilot binary at {binary}: cargo build, or set NETPILOT_BIN")
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "netpilot.sock")
        log = open(os.path.join(directory, "daemon.log"), "w+")
        daemon = subprocess.Popen(
            [binary, "daemon", "--socket", path], stdout=subprocess.DEVNULL, stderr=log
        )
        deadline = time.monotonic() + 20
        while not os.path.exists(path):
            if daemon.poll() is not None or time.monotonic() > deadline:
                daemon.kill()
                log.seek(0)
                pytest.fail(f"the daemon did not start: {log.read()}")
            time.sleep(0.05)
        yield path
        daemon.terminate()
        daemon.wait(10)
        log.close()
