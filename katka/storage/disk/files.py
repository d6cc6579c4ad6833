"""Small crash-safe file operations the disk engine shares."""

from __future__ import annotations

import os

from katka.storage.disk import faults


def write_file_atomically(path: str, data: bytes) -> None:
    """Write, fsync and rename, so a crash leaves either the old or the new content."""
    temporary = path + ".tmp"
    faults.check_write(temporary)
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        faults.fsync(file.fileno(), temporary)
    os.replace(temporary, path)


def fsync_directory(path: str) -> None:
    """Make renames and unlinks in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        faults.fsync(fd, path)
    finally:
        os.close(fd)
