"""Fault injection for the disk engine: writes that fail as they do on a full disk, slow fsyncs.

`KATKA_FAULT_DISK_FULL=<path>` in the environment (or `set_disk_full_flag(path)` in-process):
while the file <path> exists, every write of the disk engine (segment appends, index entries,
checkpoints and snapshots) fails with ENOSPC before touching the file. Tests create and remove
that file to fill and free the "disk" of a running `katka serve`, which exercises the same
error paths a real full filesystem does: the append is refused with KAFKA_STORAGE_ERROR, reads
go on, and appends succeed again once the file is gone. Unset (the default), the hook costs a
global lookup per write.

Every fsync of the disk engine, and of the metadata catalog's atomic replace, goes through
`fsync(fd, path)`: `KATKA_FAULT_SLOW_FSYNC_MS=<ms>` makes each one that much slower (a slow disk
widens the window in which the loop appends and rolls while a group-commit round is under way),
and `set_fsync_hook(hook)` lets a test run code, or wait, inside an fsync.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable

_disk_full_flag: str | None = os.environ.get("KATKA_FAULT_DISK_FULL") or None
_slow_fsync_s = float(os.environ.get("KATKA_FAULT_SLOW_FSYNC_MS") or 0) / 1000
_fsync_hook: Callable[[str], None] | None = None


def set_disk_full_flag(path: str | os.PathLike[str] | None) -> None:
    """While `path` exists, disk engine writes fail with ENOSPC (None turns the hook off)."""
    global _disk_full_flag
    _disk_full_flag = os.fspath(path) if path is not None else None


def check_write(path: str) -> None:
    """Raise OSError(ENOSPC) when the disk-full fault is active."""
    if _disk_full_flag is not None and os.path.exists(_disk_full_flag):
        raise OSError(errno.ENOSPC, "No space left on device (injected)", path)


def set_fsync_hook(hook: Callable[[str], None] | None) -> None:
    """Call `hook(path)` at the start of every disk engine fsync (None turns it off)."""
    global _fsync_hook
    _fsync_hook = hook


def fsync(fd: int, path: str) -> None:
    """os.fsync, behind the slow-fsync fault and the test hook."""
    if _fsync_hook is not None:
        _fsync_hook(path)
    if _slow_fsync_s:
        time.sleep(_slow_fsync_s)
    os.fsync(fd)


# The cleaner's steps, in order: "map-built", "segments-written" (its thread), then on the
# loop "swap-begin" (cleaning.json written), "swap-renamed" (.swap files in place, old segments
# still there), "swap-deleted" (old segments gone, .swap not yet renamed).
# `KATKA_FAULT_CLEANER_PAUSE=<step>:<path>` creates <path> at that step and then sleeps until
# the process is killed (crash tests SIGKILL it there); `set_cleaner_hook` runs code instead.
_cleaner_pause = os.environ.get("KATKA_FAULT_CLEANER_PAUSE") or None
_cleaner_hook: Callable[[str], None] | None = None


def set_cleaner_hook(hook: Callable[[str], None] | None) -> None:
    global _cleaner_hook
    _cleaner_hook = hook


def cleaner_step(step: str) -> None:
    if _cleaner_hook is not None:
        _cleaner_hook(step)
    if _cleaner_pause is not None:
        wanted, _, path = _cleaner_pause.partition(":")
        if wanted == step:
            with open(path, "w") as flag:
                flag.write(step)
            while True:
                time.sleep(3600)
