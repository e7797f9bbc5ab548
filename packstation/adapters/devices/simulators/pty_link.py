"""A pseudo-terminal pair whose slave end the app opens like a real serial port.

The simulator keeps the master. A stable symlink (like udev's /dev/serial/by-id names)
points at the current slave, so "unplug" (close the pty) and "replug" (a new pty behind
the same name) look to the app exactly like a USB-serial device coming and going.
"""

from __future__ import annotations

import os
import tempfile
import tty
from pathlib import Path


class PtyLink:
    def __init__(
        self, link_dir: str | os.PathLike[str] | None = None, name: str = "ttySIM"
    ) -> None:
        self._own_dir = link_dir is None
        folder = Path(link_dir) if link_dir else Path(tempfile.mkdtemp(prefix="packstation-sim-"))
        self.link = folder / name
        self.master: int | None = None
        self._slave: int | None = None
        self.plug()

    @property
    def path(self) -> str:
        """The stable name the app should open (a symlink to the current /dev/pts/N)."""
        return str(self.link)

    @property
    def connected(self) -> bool:
        return self.master is not None

    def plug(self) -> None:
        if self.master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        self.master, self._slave = master, slave
        tmp = self.link.with_name(self.link.name + ".new")
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.link)

    def unplug(self) -> None:
        """Close both ends: the app's reads fail and the name dangles, as with a pulled cable."""
        for fd in (self.master, self._slave):
            if fd is not None:
                os.close(fd)
        self.master = self._slave = None
        if self.link.is_symlink():
            self.link.unlink()

    def write(self, data: bytes) -> None:
        if self.master is None:
            raise OSError("pty is unplugged")
        view = memoryview(data)
        while view:
            n = os.write(self.master, view)
            view = view[n:]

    def close(self) -> None:
        self.unplug()
        if self._own_dir:
            try:
                self.link.parent.rmdir()
            except OSError:
                pass
