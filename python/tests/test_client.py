"""The Python client against a running daemon: errors as exceptions with the protocol's
codes everywhere; with the WiFi lab (NETPILOT_LAB=1), a real device link to the robot AP."""

import subprocess

import pytest

import netpilot
from conftest import IN_LAB

ROBOT_SSID = "Cozmo_A1B2C3"
ROBOT_PASSWORD = "cozmo-secret-1"

lab_only = pytest.mark.skipif(not IN_LAB, reason="needs the WiFi lab (lab/run)")
host_only = pytest.mark.skipif(IN_LAB, reason="checks the daemon without NetworkManager")


def test_no_daemon_is_daemon_unavailable_with_how_to_start_it(tmp_path):
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.device_status(socket_path=str(tmp_path / "nothing.sock"))
    assert caught.value.code == "daemon-unavailable"
    assert "netpilot daemon" in caught.value.hint


def test_an_unknown_preset_is_invalid_and_lists_the_presets(socket_path):
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.configure_device_network("Roomba_1", preset="roomba", socket_path=socket_path)
    assert caught.value.code == "invalid-argument"
    assert "cozmo, tello, gopro, esp32" in caught.value.hint


def test_bad_ssids_and_passwords_are_refused_without_echoing_the_password(socket_path):
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.configure_device_network("x" * 33, socket_path=socket_path)
    assert caught.value.code == "invalid-argument"
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.configure_device_network(ROBOT_SSID, password="short-1", socket_path=socket_path)
    assert caught.value.code == "invalid-argument"
    assert "short-1" not in str(caught.value)


def test_unknown_methods_and_params_are_protocol_errors(socket_path):
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
def test_without_networkmanager_status_says_so(socket_path):
    with pytest.raises(netpilot.NetpilotError) as caught:
        netpilot.device_status(socket_path=socket_path)
    assert caught.value.code == "nm-unavailable"
    assert caught.value.hint


@lab_only
def test_device_link_brings_the_robot_up_and_takes_it_down(socket_path):
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
def test_device_link_goes_down_when_the_body_raises(socket_path):
    netpilot.configure_device_network(ROBOT_SSID, password=ROBOT_PASSWORD, socket_path=socket_path)
    with pytest.raises(RuntimeError):
        with netpilot.device_link("cozmo", socket_path=socket_path):
            raise RuntimeError("the robot code failed")
    status = netpilot.device_status("cozmo", socket_path=socket_path)
    assert status["devices"][0]["state"] == "down"
    with netpilot.Client(socket_path) as client:
        client.call("device.reset", name="cozmo")
