"""netpilot.pycozmo: the names of PyCozmo's network design on the daemon's device link.

On the host (no NetworkManager) what can be proved is the order of things and the errors:
PyCozmo is looked for before the daemon is asked anything, the robot is not contacted when
the link cannot come up, the status keeps the design's keys when it cannot be read. In the
WiFi lab (NETPILOT_LAB=1) the link really comes up to the robot's AP, with a stand-in for
PyCozmo (the lab's AP is hostapd, not a Cozmo), and with PyCozmo itself where it is
installed (lab/setup installs it): against no robot, and against a stand-in robot
(cozmo_standin.py: PyCozmo's own server-side connection, in the robot's namespace on
172.31.1.1:5551) that PyCozmo connects to and pings through the link, before and after the
robot's AP goes away and comes back. Wherever PyCozmo is installed, the stand-in is first
proved on the loopback.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys
import threading
import time
import types
import urllib.request
from typing import Any, Dict, Iterator, List, Optional

import pytest

import netpilot
from conftest import host_only, lab_only
from netpilot import pycozmo as network

ROBOT_SSID = "Cozmo_A1B2C3"
ROBOT_PASSWORD = "cozmo-secret-1"
SEED_KEYS = {"dual_network_active", "internet_interface", "cozmo_interface", "monitoring"}


class StandIn:
    """A module in place of PyCozmo: its connect() records how it was called and what the
    daemon said of the link at that moment, and yields itself as PyCozmo's client."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.opened: List[Dict[str, Any]] = []
        self.closed = 0
        self.module = types.ModuleType("pycozmo")
        self.module.connect = self.connect  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def connect(self, **options: Any) -> Iterator["StandIn"]:
        status = network.get_network_status(socket_path=self.socket_path)
        self.opened.append({"options": options, "status": status})
        try:
            yield self
        finally:
            self.closed += 1


@pytest.fixture
def without_pycozmo(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import pycozmo` raise ImportError, installed or not.
    monkeypatch.setitem(sys.modules, "pycozmo", None)


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, socket_path: str) -> StandIn:
    fake = StandIn(socket_path)
    monkeypatch.setitem(sys.modules, "pycozmo", fake.module)
    return fake


def test_connect_without_pycozmo_says_how_to_install_it_before_asking_the_daemon(
    without_pycozmo: None, short_dir: str
) -> None:
    # Nothing listens here: had the daemon been asked first, this would be daemon-unavailable.
    nowhere = os.path.join(short_dir, "nothing.sock")
    with pytest.raises(netpilot.NetpilotError) as caught:
        with network.connect(socket_path=nowhere):
            pytest.fail("the body ran without PyCozmo")
    assert caught.value.code == "unsupported"
    assert "pip install pycozmo" in (caught.value.hint or "")


def test_get_network_status_without_a_daemon_keeps_the_seeds_keys(short_dir: str) -> None:
    status = network.get_network_status(socket_path=os.path.join(short_dir, "nothing.sock"))
    assert SEED_KEYS <= set(status)
    assert status["dual_network_active"] is False and status["monitoring"] is False
    assert status["internet_interface"] is None and status["cozmo_interface"] is None
    assert status["error"]["code"] == "daemon-unavailable"
    assert "netpilot daemon" in status["error"]["hint"]


def test_configure_cozmo_network_refuses_bad_input_before_networkmanager(socket_path: str) -> None:
    with pytest.raises(netpilot.NetpilotError) as caught:
        network.configure_cozmo_network("x" * 33, ROBOT_PASSWORD, socket_path=socket_path)
    assert caught.value.code == "invalid-argument"
    with pytest.raises(netpilot.NetpilotError) as caught:
        network.configure_cozmo_network(
            ROBOT_SSID, ROBOT_PASSWORD, auto_connect="yes", socket_path=socket_path  # type: ignore[arg-type]
        )
    assert caught.value.code == "invalid-params"
    assert "autoConnect" in caught.value.message


@host_only
def test_get_network_status_without_networkmanager_says_so(socket_path: str) -> None:
    status = network.get_network_status(socket_path=socket_path)
    assert SEED_KEYS <= set(status)
    assert status["dual_network_active"] is False and status["monitoring"] is False
    assert status["error"]["code"] == "nm-unavailable"
    assert status["error"]["hint"]


@host_only
def test_connect_does_not_open_pycozmo_when_the_link_cannot_come_up(
    stand_in: StandIn, socket_path: str
) -> None:
    with pytest.raises(netpilot.NetpilotError) as caught:
        with network.connect(socket_path=socket_path):
            pytest.fail("the body ran without a link")
    assert caught.value.code == "nm-unavailable"
    assert stand_in.opened == []


@host_only
@pytest.mark.parametrize("call", [network.enable_auto_network, network.disable_auto_network])
def test_enable_and_disable_auto_network_go_to_the_daemon(socket_path: str, call: Any) -> None:
    with pytest.raises(netpilot.NetpilotError) as caught:
        call(socket_path=socket_path)
    assert caught.value.code == "nm-unavailable"


# --- the WiFi lab: the robot's AP on the second radio -------------------------------------


@pytest.fixture
def cozmo(socket_path: str) -> Iterator[Dict[str, Any]]:
    """The cozmo link configured without autoconnect (so NetworkManager never joins it
    unasked), and reset at the end whatever happened."""
    configured = network.configure_cozmo_network(
        ROBOT_SSID, ROBOT_PASSWORD, auto_connect=False, socket_path=socket_path
    )
    try:
        yield configured
    finally:
        with netpilot.Client(socket_path) as client:
            client.reset(network.LINK)


def _state(socket_path: str) -> str:
    status = network.get_network_status(socket_path=socket_path)
    assert status["cozmo"] is not None, status
    state: str = status["cozmo"]["state"]
    return state


@lab_only
def test_lab_configure_cozmo_network_saves_the_cozmo_link(cozmo: Dict[str, Any]) -> None:
    device = cozmo["device"]
    assert (device["name"], device["preset"], device["ssid"]) == ("cozmo", "cozmo", ROBOT_SSID)
    assert device["autoConnect"] is False
    assert device["interface"] == "wlan1"
    assert ROBOT_PASSWORD not in str(cozmo)


@lab_only
def test_lab_connect_without_pycozmo_leaves_the_link_down(
    cozmo: Dict[str, Any], without_pycozmo: None, socket_path: str
) -> None:
    with pytest.raises(netpilot.NetpilotError) as caught:
        with network.connect(socket_path=socket_path):
            pytest.fail("the body ran without PyCozmo")
    assert caught.value.code == "unsupported"
    assert _state(socket_path) == "down"


@lab_only
def test_lab_connect_opens_pycozmo_over_the_link_and_takes_it_down(
    cozmo: Dict[str, Any], stand_in: StandIn, socket_path: str
) -> None:
    with network.connect(socket_path=socket_path, enable_animations=False) as cli:
        assert cli is stand_in
    (opened,) = stand_in.opened
    assert opened["options"] == {"enable_animations": False}
    during = opened["status"]
    assert during["dual_network_active"] is True and during["monitoring"] is True
    assert (during["internet_interface"], during["cozmo_interface"]) == ("wlan0", "wlan1")
    assert stand_in.closed == 1
    after = network.get_network_status(socket_path=socket_path)
    assert after["cozmo"]["state"] == "down"
    assert after["dual_network_active"] is False and after["monitoring"] is False


@lab_only
def test_lab_connect_takes_the_link_down_when_the_robot_code_raises(
    cozmo: Dict[str, Any], stand_in: StandIn, socket_path: str
) -> None:
    with pytest.raises(RuntimeError, match="the robot code failed"):
        with network.connect(socket_path=socket_path):
            raise RuntimeError("the robot code failed")
    assert stand_in.closed == 1
    assert _state(socket_path) == "down"


@lab_only
def test_lab_enable_and_disable_auto_network_are_device_up_and_down(
    cozmo: Dict[str, Any], socket_path: str
) -> None:
    with netpilot.Client(socket_path) as watcher:
        events = watcher.events(["device"], idle_timeout=45)
        up = network.enable_auto_network(socket_path=socket_path)
        assert up["state"] == "up" and up["localAddress"].startswith("172.31.1.")
        status = network.get_network_status(socket_path=socket_path)
        assert status["dual_network_active"] is True and status["monitoring"] is True
        with netpilot.Client(socket_path) as client:
            checked = client.test(network.LINK)
        assert checked["passed"] is True, checked
        assert network.disable_auto_network(socket_path=socket_path)["failed"] == []
        states = []
        for event in events:
            if event["service"] == "device" and event["data"]["name"] == network.LINK:
                states.append(event["data"]["state"])
            if states[-2:] == ["up", "down"]:
                break
    # The state sent on subscribing, then the link's transitions.
    assert states == ["down", "connecting", "up", "down"], states
    assert network.get_network_status(socket_path=socket_path)["monitoring"] is False


@pytest.fixture
def real_pycozmo() -> types.ModuleType:
    # Before `cozmo` in a test's arguments: without PyCozmo nothing is configured.
    return pytest.importorskip("pycozmo", reason="PyCozmo is not installed: pip install pycozmo")


@lab_only
def test_lab_connect_with_pycozmo_and_no_robot_takes_the_link_down(
    real_pycozmo: types.ModuleType, cozmo: Dict[str, Any], socket_path: str
) -> None:
    # The lab's AP is hostapd: no Cozmo answers at 172.31.1.1:5551, and PyCozmo's connect()
    # gives up (it exits the program after its 5 s wait for the robot).
    with pytest.raises((SystemExit, Exception)):
        with network.connect(socket_path=socket_path):
            pytest.fail("PyCozmo connected to a robot the lab does not have")
    assert _state(socket_path) == "down"


# --- PyCozmo itself, against a stand-in robot (cozmo_standin.py) --------------------------

STANDIN = pathlib.Path(__file__).resolve().with_name("cozmo_standin.py")
# The lab's robot AP (lab/guest/lab-up): hostapd on wlan3 in the namespace aps, 172.31.1.1/24.
ROBOT_NETNS = "aps"
ROBOT_AP = "wlan3"
LAB_RUN = "/run/np-lab"


class StandInRobot:
    """cozmo_standin.py running (``command``), and the lines it has said (stdout and
    stderr): ``listening``, ``session ADDRESS``, ``ping N from ADDRESS``..."""

    def __init__(self, command: List[str]) -> None:
        self.lines: List[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name="stand-in", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def mark(self) -> int:
        """Where the lines said from now on begin (for ``wait_for(..., since=)``)."""
        with self._changed:
            return len(self.lines)

    def wait_for(self, prefix: str, since: int = 0, timeout: float = 10.0) -> str:
        """The first line from ``since`` on that starts with ``prefix``, once said; fails the
        test after ``timeout`` seconds, or when the stand-in has exited without saying it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[since:]:
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    pytest.fail(f"the stand-in robot did not say {prefix!r} in {timeout:g} s:\n"
                                f"{self.said()}")
                self._changed.wait(min(left, 0.5))

    def said(self) -> str:
        """What it said, for a failure's message: its pings counted, repeats folded."""
        with self._changed:
            lines = [line for line in self.lines if not line.startswith("ping ")]
            pings = len(self.lines) - len(lines)
        folded: List[List[Any]] = []
        for line in lines:
            if folded and folded[-1][0] == line:
                folded[-1][1] += 1
            else:
                folded.append([line, 1])
        exited = self.process.poll()
        status = "running" if exited is None else f"exited {exited}"
        return "\n".join(
            [line if times == 1 else f"{line} (x{times})" for line, times in folded]
            + [f"({pings} pings; {status})"]
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(5)


def echoed_pings(cli: Any, pycozmo: types.ModuleType, count: int, timeout: float) -> List[int]:
    """The counters of the pings the robot echoes to ``cli`` (PyCozmo pings every 0.5 s),
    once ``count`` have come or after ``timeout`` seconds."""
    echoed: List[int] = []
    enough = threading.Event()

    def on_ping(conn: Any, pkt: Any) -> None:
        echoed.append(pkt.counter)
        if len(echoed) >= count:
            enough.set()

    handler = cli.add_handler(pycozmo.protocol_encoder.Ping, on_ping)
    try:
        enough.wait(max(timeout, 0))
    finally:
        cli.del_handler(pycozmo.protocol_encoder.Ping, handler)
    return list(echoed)


def assert_pycozmo_session(
    cli: Any,
    pycozmo: types.ModuleType,
    robot: StandInRobot,
    since: int,
    client_address: Optional[str] = None,
    pings: int = 3,
) -> None:
    """PyCozmo's client ``cli`` (its wait for the robot over) has done the handshake with
    the stand-in, in a session the robot started after line ``since``, from
    ``client_address`` when given; and ``pings`` of its pings came back, each one seen by
    the robot from that session's client."""
    import cozmo_standin as standin

    assert cli.conn.state == cli.conn.CONNECTED, "PyCozmo's connection is not connected"
    assert cli.robot_fw_sig == {
        "version": pycozmo.protocol_declaration.FIRMWARE_VERSION,
        "build": standin.BUILD,
    }, cli.robot_fw_sig
    assert cli.serial_number == standin.SERIAL
    session = robot.wait_for("session ", since, timeout=5)
    peer = session.split()[1]
    if client_address is not None:
        assert peer.startswith(f"{client_address}:"), (session, client_address)
    echoed = echoed_pings(cli, pycozmo, pings, timeout=pings * 0.5 + 3)
    assert len(echoed) >= pings, f"pings echoed: {echoed}; the stand-in said:\n{robot.said()}"
    assert echoed == sorted(echoed), echoed
    robot.wait_for(f"ping {echoed[-1]} from {peer}", since, timeout=2)


def new_pycozmo_session(
    pycozmo: types.ModuleType, deadline: float, robot_addr: Optional[Any] = None
) -> Any:
    """A PyCozmo ``Client`` connected to the robot (the RESET answered, the firmware
    signature and the body seen) before ``deadline`` (``time.monotonic()``). PyCozmo sends
    its RESET once: while time is left, a client that got no answer in 3 s is stopped and
    a new one tried. The caller stops the one returned."""
    while True:
        cli = pycozmo.Client(robot_addr=robot_addr)
        cli.start()
        cli.connect()
        try:
            cli.wait_for_robot(timeout=max(0.1, min(3.0, deadline - time.monotonic())))
            return cli
        except pycozmo.exception.ConnectionTimeout:
            cli.stop()
            if time.monotonic() >= deadline:
                raise


def close_pycozmo_session(cli: Any) -> None:
    cli.disconnect()
    cli.stop()


def test_the_standin_robot_answers_pycozmos_handshake_and_pings(
    real_pycozmo: types.ModuleType,
) -> None:
    # The stand-in itself, on the loopback: PyCozmo's own client completes its handshake,
    # is pinged back, disconnects, and the robot takes the next session as a robot does.
    robot = StandInRobot(
        [sys.executable, str(STANDIN), "--address", "127.0.0.1", "--port", "0"]
    )
    try:
        port = int(robot.wait_for("listening 127.0.0.1:", timeout=15).rsplit(":", 1)[1])
        for _ in range(2):
            since = robot.mark()
            cli = new_pycozmo_session(real_pycozmo, time.monotonic() + 10, ("127.0.0.1", port))
            try:
                assert_pycozmo_session(cli, real_pycozmo, robot, since, "127.0.0.1")
                cli.disconnect()
                robot.wait_for("disconnected", since, timeout=5)
            finally:
                cli.stop()
    finally:
        robot.stop()
    assert robot.process.returncode == 0, robot.said()


def _sh(command: str) -> str:
    done = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout + done.stderr


class RobotAp:
    """The robot's access point, switched off and on as the lab's own tests do
    (crates/netpilot/tests/lab/device.rs, ap_off and ap_on): hostapd killed without a
    goodbye and its radio down; the radio up and hostapd started again."""

    def __init__(self) -> None:
        self.is_on = True

    def off(self) -> None:
        self.is_on = False
        _sh(f"kill -9 $(cat {LAB_RUN}/hostapd-{ROBOT_AP}.pid); "
            f"ip -n {ROBOT_NETNS} link set {ROBOT_AP} down")

    def on(self) -> None:
        log = os.path.join(os.environ.get("NETPILOT_LAB_OUT", "/tmp"),
                           f"hostapd-{ROBOT_AP}-restarted-python.log")
        said = _sh(
            f"ip -n {ROBOT_NETNS} link set {ROBOT_AP} up && ip netns exec {ROBOT_NETNS} "
            f"hostapd -B -t -P {LAB_RUN}/hostapd-{ROBOT_AP}.pid -f {log} "
            f"{LAB_RUN}/hostapd-{ROBOT_AP}.conf && echo started"
        )
        assert "started" in said, f"hostapd did not start again: {said}"
        self.is_on = True


@pytest.fixture
def robot_ap() -> Iterator[RobotAp]:
    """The robot's AP, on again at the end whatever happened (the next tests need it)."""
    ap = RobotAp()
    try:
        yield ap
    finally:
        if not ap.is_on:
            ap.on()


@pytest.fixture
def robot(real_pycozmo: types.ModuleType) -> Iterator[StandInRobot]:
    """The stand-in robot in the robot AP's namespace, on 172.31.1.1:5551: where PyCozmo's
    client looks for a Cozmo (pycozmo.conn.ROBOT_ADDR)."""
    import cozmo_standin as standin

    assert real_pycozmo.conn.ROBOT_ADDR == (standin.ROBOT_ADDRESS, standin.ROBOT_PORT)
    stand_in = StandInRobot(
        ["ip", "netns", "exec", ROBOT_NETNS, sys.executable, str(STANDIN)]
    )
    try:
        stand_in.wait_for(f"listening {standin.ROBOT_ADDRESS}:{standin.ROBOT_PORT}", timeout=15)
        yield stand_in
    finally:
        stand_in.stop()


def internet() -> str:
    """The lab's internet page (the home AP's gateway serves it), through no proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open("http://internet.lab/", timeout=5) as page:
        text: str = page.read().decode("utf-8", "replace").strip()
    return text


def until_link_state(
    events: Iterator[Dict[str, Any]], state: str, deadline: float
) -> Dict[str, Any]:
    """The next event of the cozmo link in ``state``; fails the test once ``deadline``
    (``time.monotonic()``) has passed without one (the events' idle timeout bounds each
    wait)."""
    seen: List[Any] = []
    for event in events:
        data: Dict[str, Any] = event["data"]
        if event["service"] == "device" and data.get("name") == network.LINK:
            seen.append(data.get("state"))
            if data.get("state") == state:
                return data
        if time.monotonic() > deadline:
            break
    pytest.fail(f"the cozmo link was not {state} in time; its states meanwhile: {seen}")


def _local_address(socket_path: str) -> str:
    status = network.get_network_status(socket_path=socket_path)
    address: str = status["cozmo"]["localAddress"]
    return address.split("/")[0]


@lab_only
def test_lab_pycozmo_pings_the_robot_through_the_link_and_again_after_its_ap_returns(
    real_pycozmo: types.ModuleType,
    robot: StandInRobot,
    robot_ap: RobotAp,
    cozmo: Dict[str, Any],
    socket_path: str,
) -> None:
    pycozmo = real_pycozmo
    try:
        with network.connect(socket_path=socket_path) as cli:
            # pycozmo.connect() has returned: it waited for the robot (handshake done).
            status = network.get_network_status(socket_path=socket_path)
            assert status["dual_network_active"] is True, status
            assert_pycozmo_session(cli, pycozmo, robot, 0, _local_address(socket_path))
            assert internet() == "internet ok"

            with netpilot.Client(socket_path) as watcher:
                events = watcher.events(["device"], idle_timeout=15)
                until_link_state(events, "up", time.monotonic() + 5)  # said on subscribing
                robot_ap.off()
                until_link_state(events, "lost", time.monotonic() + 10)
                assert internet() == "internet ok"
                time.sleep(2)
                robot_ap.on()
                back = time.monotonic()
                deadline = back + 10
                until_link_state(events, "up", deadline)

            # A new session, as a program opens once the robot is back: PyCozmo's first one
            # does not come back by itself (what it queued meanwhile is resent in frames
            # too long for PyCozmo's own decoder: the stand-in says "Failed to decode
            # frame"). The robot takes the new one (one app at a time) and ignores the old.
            since = robot.mark()
            again = new_pycozmo_session(pycozmo, deadline)
            try:
                first = echoed_pings(again, pycozmo, 1, deadline - time.monotonic())
                took = time.monotonic() - back
                assert first and took <= 10, (
                    f"a new PyCozmo session pinged back {took:.1f} s after the AP's return "
                    f"(pings: {first}); the stand-in said:\n{robot.said()}"
                )
                assert_pycozmo_session(again, pycozmo, robot, since, _local_address(socket_path))
                assert internet() == "internet ok"
            finally:
                close_pycozmo_session(again)
    except SystemExit as gave_up:
        pytest.fail(f"PyCozmo gave up on the robot (exit {gave_up.code}); "
                    f"the stand-in said:\n{robot.said()}")
    after = network.get_network_status(socket_path=socket_path)
    assert after["cozmo"]["state"] == "down", after["cozmo"]
    assert after["monitoring"] is False
