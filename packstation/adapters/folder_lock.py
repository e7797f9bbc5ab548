"""An exclusive lock on a station's data folder (``flock`` on a file in it), naming its holder.

The kernel drops the lock when the process dies however it dies, so a crash never leaves a
stale lock behind; the file only says who held it last.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class FolderLocked(RuntimeError):
    def __init__(self, holder: str):
        super().__init__(holder)
        self.holder = holder


class FolderLock:
    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self, holder: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "an unknown process"
            finally:
                os.close(fd)
            raise FolderLocked(text) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)  # closing drops the flock
