"""PyCozmo's network API, as its design named it, on top of the netpilot daemon.

    from netpilot import pycozmo as network

    network.configure_cozmo_network("Cozmo_A1B2C3", password="12 characters")  # once
    with network.connect() as cli:        # the link up, then pycozmo.connect() through it
        cli.set_head_angle(0.6)           # ...and the internet still works meanwhile
    # here the link is down again

The names and arguments are those of PyCozmo's "dual network" design
(``configure_cozmo_network``, ``enable_auto_network``, ``disable_auto_network``,
``get_network_status``), so code written against it reads the same. What it did itself (a
keyring of its own, a monitor thread polling every 30 s) the daemon does here: it keeps the
password agent-owned and supervises the link from its events. So each function is a call
of the daemon's ``device.*`` methods on the device link named ``cozmo`` (preset
``cozmo``), and differs from the design where the design was wrong:

- failures raise :class:`netpilot.NetpilotError` (``code``, ``message``, ``hint``) instead
  of returning ``False`` and logging, so the reason and the next step reach the caller;
- a Cozmo's network does have a password: the 12 characters its face shows when its lift
  is raised and lowered (the design's "usually no password" is not so).

Only :func:`connect` needs PyCozmo (``pip install pycozmo``); the rest is the standard
library and the daemon.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from types import ModuleType
from typing import Any, Dict, Iterator, Optional

from . import (
    Client,
    NetpilotError,
    _teardown_error,
    configure_device_network,
    device_link,
    device_status,
)

__all__ = [
    "LINK",
    "configure_cozmo_network",
    "connect",
    "disable_auto_network",
    "enable_auto_network",
    "get_network_status",
]

#: The device link these functions drive (and its preset: address 172.31.1.1).
LINK = "cozmo"

# The states in which the daemon is watching the link: bringing it up, up, or lost and
# rejoining it (docs/protocol.md, the `device` service).
_SUPERVISED = frozenset({"connecting", "up", "lost"})

# Failures that are the state of the machine rather than a mistake of the caller: the
# status says so (in "error") instead of raising, as the design's status never raised.
_STATUS_UNREADABLE = frozenset({"daemon-unavailable", "nm-unavailable"})


def configure_cozmo_network(
    ssid: str,
    password: str = "",
    auto_connect: bool = True,
    *,
    interface: Optional[str] = None,
    socket_path: Optional[str] = None,
) -> Dict[str, Any]:
    """Saves the ``cozmo`` device link: the robot's network ``ssid`` (``Cozmo_...``) and the
    password its face shows, on a radio that is not the internet's (``interface`` names
    one; by default the daemon chooses). Returns ``{"device", "warnings"}``; the password is
    kept by the daemon and never returned. Without a password, one saved before is kept.

    ``auto_connect`` is the link's ``autoConnect``: NetworkManager joins the robot's
    network by itself whenever it is in range, and the daemon adopts and supervises the
    link once the robot answers. With ``False`` the link comes up only when asked
    (:func:`enable_auto_network`, :func:`connect`).
    """
    return configure_device_network(
        ssid,
        password=password,
        auto_connect=auto_connect,
        preset="cozmo",
        name=LINK,
        interface=interface,
        socket_path=socket_path,
    )


def enable_auto_network(*, socket_path: Optional[str] = None) -> Dict[str, Any]:
    """Brings the ``cozmo`` link up and has the daemon supervise it: ``device.up``, which
    returns once the robot answers (up to 30 s). From then on a lost link is reported and
    rejoined by the daemon, with no thread in this program; :func:`disable_auto_network`
    ends it.

    Returns the link's status, a non-empty dict, so ``if enable_auto_network():`` reads as
    with the design's ``True``; where the design returned ``False``, this raises
    :class:`NetpilotError` saying why (``not-found``: configure it first, ``no-free-radio``,
    ``timeout``...).
    """
    with Client(socket_path) as client:
        return client.up(LINK)


def disable_auto_network(*, socket_path: Optional[str] = None) -> Dict[str, Any]:
    """Takes the ``cozmo`` link down and ends its supervision: ``device.down``. The link's
    configuration and password stay (:func:`netpilot.Client.reset` deletes them). Returns
    the steps taken, ``{"done", "failed"}``; a step that failed raises
    :class:`NetpilotError` (every step is tried first)."""
    with Client(socket_path) as client:
        teardown = client.down(LINK)
    error = _teardown_error(LINK, teardown)
    if error:
        raise error
    return teardown


def get_network_status(*, socket_path: Optional[str] = None) -> Dict[str, Any]:
    """The design's status keys, beside netpilot's own (``device.status``):

    - ``dual_network_active``: the ``cozmo`` link is up and an internet link holds the
      default route;
    - ``internet_interface``: the interface of the lowest-metric default route, or None;
    - ``cozmo_interface``: the radio the ``cozmo`` link is bound to, or None when it is not
      configured;
    - ``monitoring``: the daemon is supervising the link (connecting, up, or lost and
      rejoining);
    - ``cozmo``: the link's own status (``state``, ``localAddress``, ``probeMs``...), or
      None; ``internet``, ``devices`` and ``wifiDevices`` as ``device.status`` gives them.

    When the daemon or NetworkManager cannot be reached, that is the status: the four keys
    say nothing is active and ``error`` holds ``{"code", "message", "hint"}``. Other
    failures raise :class:`NetpilotError`.
    """
    try:
        status = device_status(socket_path=socket_path)
    except NetpilotError as error:
        if error.code not in _STATUS_UNREADABLE:
            raise
        return _unreadable(error)
    link = next((d for d in status.get("devices") or [] if d.get("name") == LINK), None)
    internet = (status.get("internet") or {}).get("interface")
    state = link.get("state") if link else None
    return {
        **status,
        "dual_network_active": state == "up" and internet is not None,
        "internet_interface": internet,
        "cozmo_interface": link.get("interface") if link else None,
        "monitoring": state in _SUPERVISED,
        "cozmo": link,
    }


def _unreadable(error: NetpilotError) -> Dict[str, Any]:
    return {
        "dual_network_active": False,
        "internet_interface": None,
        "cozmo_interface": None,
        "monitoring": False,
        "cozmo": None,
        "error": {"code": error.code, "message": error.message, "hint": error.hint},
    }


@contextlib.contextmanager
def connect(
    *, link: str = LINK, socket_path: Optional[str] = None, **pycozmo_options: Any
) -> Iterator[Any]:
    """Brings the device link up, opens ``pycozmo.connect(**pycozmo_options)`` through it
    (PyCozmo talks to 172.31.1.1, the Cozmo preset's address), yields PyCozmo's client,
    and takes the link down at the end, also when the body raises.

    PyCozmo is looked for before anything else, so without it nothing changes: the error
    is ``unsupported``, with how to install it, whether or not a daemon runs. When the
    robot does not answer, PyCozmo itself exits the program (``SystemExit``, after 5 s);
    the link is taken down all the same.
    """
    pycozmo = _import_pycozmo()
    with device_link(link, socket_path=socket_path):
        with pycozmo.connect(**pycozmo_options) as cli:
            yield cli


def _import_pycozmo() -> ModuleType:
    try:
        return importlib.import_module("pycozmo")
    except ImportError as error:
        raise NetpilotError(
            "unsupported",
            f"PyCozmo is not installed for {sys.executable} ({error})",
            f"{sys.executable} -m pip install pycozmo; or bring the link up with "
            f"netpilot.device_link({LINK!r}) and talk to the robot another way",
        ) from error
