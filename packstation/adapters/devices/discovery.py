"""What devices this machine has: serial ports, HID scales, USB printers, CUPS queues.

Used by ``packstation devices list`` so a lead can copy the right path into the config.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Found:
    kind: str  # "serial", "hid", "usb-printer", "cups"
    path: str  # what to put in the config
    description: str = ""


def serial_ports() -> list[Found]:
    from serial.tools import list_ports

    return [
        Found("serial", p.device, " ".join(x for x in (p.description, p.hwid) if x and x != "n/a"))
        for p in sorted(list_ports.comports(), key=lambda p: p.device)
    ]


def _sysfs_name(dev: str) -> str:
    uevent = Path("/sys/class/hidraw") / os.path.basename(dev) / "device" / "uevent"
    try:
        for line in uevent.read_text().splitlines():
            if line.startswith("HID_NAME="):
                return line.split("=", 1)[1]
    except OSError:
        pass
    return ""


def hid_devices() -> list[Found]:
    return [Found("hid", dev, _sysfs_name(dev)) for dev in sorted(glob.glob("/dev/hidraw*"))]


def usb_printers() -> list[Found]:
    """Kernel usblp devices (file:///dev/usb/lpN) and, with pyusb, printer-class devices."""
    found = [
        Found("usb-printer", f"file://{dev}", "usblp") for dev in sorted(glob.glob("/dev/usb/lp*"))
    ]
    try:
        import usb.core
    except ImportError:
        return found
    try:
        for dev in usb.core.find(find_all=True):
            if any(i.bInterfaceClass == 7 for cfg in dev for i in cfg):
                found.append(Found("usb-printer", f"usb://{dev.idVendor:04x}:{dev.idProduct:04x}"))
    except Exception:  # noqa: BLE001 - no permission or no backend: list what we have
        pass
    return found


def cups_queues() -> list[Found]:
    lpstat = shutil.which("lpstat")
    if lpstat is None:
        return []
    try:
        out = subprocess.run([lpstat, "-e"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [Found("cups", f"cups://{q}") for q in out.stdout.split() if q]


def everything() -> list[Found]:
    return [*serial_ports(), *hid_devices(), *usb_printers(), *cups_queues()]
