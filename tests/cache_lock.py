"""One builder at a time for the caches outside the repository that tests fill (Kafka's jars,
Go programs, Quix Streams' virtual environment): pytest-xdist workers, or two checkouts on one
machine, may ask for the same one at once."""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock named `name` (a file in the temporary directory) while inside."""
    path = Path(tempfile.gettempdir()) / f"katka-tests-{name}.lock"
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
