"""The data directory's `.lock`, as Kafka's log manager takes it: an exclusive OS lock
(flock) held for the broker's life, so a second broker on the same directory cannot start
and silently interleave its writes with the first one's. The kernel releases the lock when
the holder exits, crashes included, so a stale file never blocks a restart. The holder's pid
is written into the file for the refusal message."""

from __future__ import annotations

import fcntl
import os

LOCK_FILE = ".lock"


class DataDirectoryInUse(OSError):
    """Another process holds the data directory's lock."""


class DataDirectoryLock:
    def __init__(self, data_dir: str) -> None:
        self.path = os.path.join(data_dir, LOCK_FILE)
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(self._fd)
            os.close(self._fd)
            self._fd = None
            by = f"another katka broker (pid {holder})" if holder else "another process"
            raise DataDirectoryInUse(
                f"data directory {data_dir} is in use by {by}: stop it first or use another "
                "data directory"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        """Unlock (the file stays, as Kafka's does); closing the descriptor drops the lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None
