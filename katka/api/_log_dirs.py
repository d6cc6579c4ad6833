"""The one log directory of this node, as the log-dir APIs name it."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from katka.node import Node


def log_dir(node: Node) -> str:
    """The data directory in effect (the broker sets log.dirs to it at start)."""
    configured = node.config.get("log.dirs") or node.config.get("log.dir") or ""
    return os.path.abspath(configured.split(",")[0].strip())


def disk_usage(path: str) -> tuple[int, int]:
    """(total, usable) bytes of the file system holding `path`; -1 each when it is not on disk
    (an embedded broker over the memory engine)."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return -1, -1
    return usage.total, usage.free
