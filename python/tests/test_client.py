"""The Python client against a running daemon: errors as exceptions with the protocol's
codes everywhere; connecting that waits for a restarting daemon; events; passwords kept out
of errors. With the WiFi lab (NETPILOT_LAB=1), a real device link to the robot AP."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import threading
import time
import traceback
from typing import Any, List

import pytest

import netpilot
from conftest import IN_LAB, host_only, lab_only, start_daemon, stop_daemon

ROBOT_SSID = "Cozmo_A1B2C3"
ROBOT_PASSWORD = "cozmo-secret-1"

# A daemon of the test's own beside the lab's would be a second NetworkManager secret agent
# and a second supervisor of the robot's link.
own_daemon = pytest.mark.skipif(IN_LAB, reason="starts a daemon of its own (not beside the lab's)")


def test_no_daemon_is_daemon_unavailable_with_how_to_start_it(tmp_path: pathlib.Path) -> None:
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.device_status(socket_path=str(tmp_path / "nothing.sock"))
    assert caught.value.code == "daemon-unavailable"
    assert "netpilot daemon" in caught.value.hint


def test_an_unknown_preset_is_invalid_and_lists_the_presets(socket_path: str) -> None:
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.configure_device_network("Roomba_1", preset="roomba", socket_path=socket_path)
    assert caught.value.code == "invalid-argument"
    assert "cozmo, tello, gopro, esp32" in caught.value.hint


def test_bad_ssids_and_passwords_are_refused_without_echoing_the_password(socket_path: str) -> None:
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.configure_device_network("x" * 33, socket_path=socket_path)
    assert caught.value.code == "invalid-argument"
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.configure_device_network(ROBOT_SSID, password="short-1", socket_path=socket_path)
    assert caught.value.code == "invalid-argument"
    assert "short-1" not in str(caught.value)


def test_unknown_methods_and_params_are_protocol_errors(socket_path: str) -> None:
    with netpilot.Client(socket_path) as client:
        with pytest.raises(netpilot.NetpilotError) as caught:
            client.call("device.fly", name="cozmo")
        assert caught.value.code == "unknown-method"
        with pytest.raises(netpilot.NetpilotError) as caught:
            client.call("device.up", name=7)
        assert caught.value.code == "invalid-params"
        # The connection is still good after errors.
        assert client.call("subscribe", services=["device"])["services"] == ["device"]


@host_only
def test_without_networkmanager_status_says_so(socket_path: str) -> None:
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.device_status(socket_path=socket_path)
    assert caught.value.code == "nm-unavailable"
    assert caught.value.hint


@lab_only
def test_device_link_brings_the_robot_up_and_takes_it_down(socket_path: str) -> None:
    configured = netpilot.configure_device_network(
        ROBOT_SSID, password=ROBOT_PASSWORD, socket_path=socket_path
    )
    assert configured["device"]["interface"] == "wlan1"
    assert ROBOT_PASSWORD not in str(configured)
    with netpilot.device_link("cozmo", socket_path=socket_path) as link:
        assert link["state"] == "up"
        assert link["localAddress"].startswith("172.31.1.")
        ping = subprocess.run(["busybox", "ping", "-c1", "-W2", "-I", "wlan1", "172.31.1.1"], capture_output=True)
        assert ping.returncode == 0, ping.stdout
        status = netpilot.device_status("cozmo", socket_path=socket_path)
        assert status["internet"]["interface"] == "wlan0"
        assert status["devices"][0]["state"] == "up"
    status = netpilot.device_status("cozmo", socket_path=socket_path)
    assert status["devices"][0]["state"] == "down"


@lab_only
def test_device_link_goes_down_when_the_body_raises(socket_path: str) -> None:
    netpilot.configure_device_network(ROBOT_SSID, password=ROBOT_PASSWORD, socket_path=socket_path)
    with pytest.raises(RuntimeError):
        with netpilot.device_link("cozmo", socket_path=socket_path):
            raise RuntimeError("the robot code failed")
    status = netpilot.device_status("cozmo", socket_path=socket_path)
    assert status["devices"][0]["state"] == "down"
    with netpilot.Client(socket_path) as client:
        client.reset("cozmo")


# --- the device verbs on the Client ------------------------------------------------------


@host_only
@pytest.mark.parametrize("verb", ["up", "down", "test", "reset"])
def test_each_device_verb_reaches_the_daemons_method_of_its_name(socket_path: str, verb: str) -> None:
    # Without NetworkManager a method the daemon has answers nm-unavailable; a verb mapped
    # to a method it lacks would get unknown-method.
    with netpilot.Client(socket_path) as client:
        with pytest.raises(netpilot.NetpilotError) as caught:
            getattr(client, verb)("cozmo")
    assert caught.value.code == "nm-unavailable", caught.value


@host_only
def test_device_test_sends_internet_under_the_name_the_daemon_knows(socket_path: str) -> None:
    # The daemon refuses unknown fields (invalid-params); a known one gets as far as
    # NetworkManager.
    with netpilot.Client(socket_path) as client:
        with pytest.raises(netpilot.NetpilotError) as caught:
            client.test("cozmo", internet="internet.lab:80")
    assert caught.value.code == "nm-unavailable", caught.value


# --- connecting to a daemon that is restarting -----------------------------------------------


@own_daemon
def test_retry_for_waits_for_a_daemon_that_starts_a_second_later(short_dir: str) -> None:
    path = os.path.join(short_dir, "later.sock")
    with open(os.path.join(short_dir, "daemon.log"), "w+") as log:
        daemons: List[Any] = []
        timer = threading.Timer(1.0, lambda: daemons.append(start_daemon(path, log)))
        began = time.monotonic()
        timer.start()
        try:
            with netpilot.Client(path, retry_for=20) as client:
                waited = time.monotonic() - began
                answer = client.call("subscribe", services=["network"])
        finally:
            timer.cancel()
            timer.join()
            for daemon in daemons:
                stop_daemon(daemon)
    assert waited >= 1.0, "connected before the daemon was started?"
    assert answer["services"] == ["network"]


def _stale_socket(path: str) -> None:
    """A socket file no one listens on, as a daemon that died leaves it (ECONNREFUSED)."""
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(path)
    unix.close()


@pytest.mark.parametrize("leftover", ["no socket file", "a stale socket file"])
def test_retry_for_gives_up_when_no_daemon_comes(short_dir: str, leftover: str) -> None:
    path = os.path.join(short_dir, "never.sock")
    if leftover == "a stale socket file":
        _stale_socket(path)
    began = time.monotonic()
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.Client(path, retry_for=0.8)
    took = time.monotonic() - began
    assert caught.value.code == "daemon-unavailable"
    assert "netpilot daemon" in (caught.value.hint or "")
    assert "tried for 0.8 s" in caught.value.message
    # It tried for the time given, and no longer than one more wait (at most 2 s).
    assert 0.8 <= took < 0.8 + 2.0, took


def test_retry_for_does_not_wait_out_errors_that_waiting_cannot_fix(short_dir: str) -> None:
    # A path through a regular file is ENOTDIR: no daemon can ever listen there.
    blocker = os.path.join(short_dir, "a-file")
    open(blocker, "w").close()
    began = time.monotonic()
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.Client(os.path.join(blocker, "netpilot.sock"), retry_for=10)
    assert caught.value.code == "daemon-unavailable"
    assert time.monotonic() - began < 1.0


def test_a_negative_retry_for_is_refused_before_connecting(short_dir: str) -> None:
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.Client(os.path.join(short_dir, "nothing.sock"), retry_for=-1)
    assert caught.value.code == "invalid-argument"
    assert caught.value.hint


# --- events -----------------------------------------------------------------------------------


def test_events_yields_the_network_state_the_daemon_sends_on_subscribing(socket_path: str) -> None:
    with netpilot.Client(socket_path) as client:
        event = next(client.events(["network"], idle_timeout=10))
    assert event["service"] == "network"
    assert {"networkStatus", "wifiConnected", "wifiDevices"} <= set(event["data"])


def test_events_follow_the_internet_by_default(socket_path: str) -> None:
    # The daemon watches the default route whether NetworkManager runs or not: its state
    # comes on subscribing (up where this machine has a default route, lost where not).
    with netpilot.Client(socket_path) as client:
        stream = client.events(idle_timeout=10)
        event = next(e for e in stream if e["service"] == "internet")
    assert event["data"]["event"] in ("up", "lost"), event
    assert "connectivity" in event["data"]


def test_events_keep_coming_after_the_first(socket_path: str) -> None:
    # monitor.traffic sends a sample every second, NetworkManager or not; a service given
    # as one string is one service.
    with netpilot.Client(socket_path) as client:
        stream = client.events("monitor.traffic", idle_timeout=10)
        samples = [next(stream), next(stream)]
    assert [s["service"] for s in samples] == ["monitor.traffic", "monitor.traffic"]
    assert all("interfaces" in s["data"] for s in samples)


def test_events_of_a_service_the_daemon_lacks_is_refused_at_once(socket_path: str) -> None:
    with netpilot.Client(socket_path) as client:
        with pytest.raises(netpilot.NetpilotError) as caught:
            client.events(["internet.someday"])  # raised by the call, before any next()
        assert caught.value.code == "invalid-params"
        assert "device" in caught.value.message  # the daemon lists the services it has
        with pytest.raises(netpilot.NetpilotError) as caught:
            client.events([])
        assert caught.value.code == "invalid-argument"


@host_only
def test_events_idle_timeout_ends_the_wait_with_a_timeout_error(socket_path: str) -> None:
    # Without NetworkManager there are no device links, so no device event ever comes.
    with netpilot.Client(socket_path) as client:
        stream = client.events(["device"], idle_timeout=0.5)
        began = time.monotonic()
        with pytest.raises(netpilot.NetpilotError) as caught:
            next(stream)
    assert caught.value.code == "timeout"
    assert 0.5 <= time.monotonic() - began < 5


# --- passwords never in errors -------------------------------------------------------------


def _rendered(error: BaseException) -> str:
    """Everything an error shows: str, repr, attributes, and every error chained to it."""
    seen = []
    current: BaseException | None = error
    while current is not None:
        seen += traceback.format_exception_only(type(current), current)
        seen += [repr(current), repr(vars(current))]
        current = current.__cause__ or current.__context__
    return "\n".join(seen)


def test_no_error_shows_the_password_it_was_given(socket_path: str, short_dir: str) -> None:
    from netpilot.pycozmo import configure_cozmo_network

    valid = "face-" + "7Q2k9Xw4"  # built, so that no source line in a traceback holds it
    nowhere = os.path.join(short_dir, "nothing.sock")
    cases = [
        ("x" * 33, valid, socket_path),  # a bad SSID, a good password
        (ROBOT_SSID, "sh" + "ort-7", socket_path),  # 7 characters
        (ROBOT_SSID, "p\u00e4ssw\u00f6rd-" + "1234", socket_path),  # not ASCII
        (ROBOT_SSID, "z" * 64, socket_path),  # 64 characters, not hex
        (ROBOT_SSID, valid, nowhere),  # no daemon
    ]
    if not IN_LAB:
        cases.append((ROBOT_SSID, valid, socket_path))  # no NetworkManager
    for ssid, password, path in cases:
        with pytest.raises(netpilot.NetpilotError) as caught:
            configure_cozmo_network(ssid, password, auto_connect=False, socket_path=path)
        assert password not in _rendered(caught.value), caught.value.code
        with pytest.raises(netpilot.NetpilotError) as caught:
            netpilot.configure_device_network(ssid, password, socket_path=path)
        assert password not in _rendered(caught.value), caught.value.code
