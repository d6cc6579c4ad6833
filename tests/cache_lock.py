"""One builder at a time for the caches outside the repository that tests fill (Kafka's jars,
Go programs, Quix Streams' virtual environment): pytest-xdist workers, or two checkouts on one
machine, may ask for the same one at once."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock named `name` (a file in /tmp, whatever TMPDIR the suite chose, so
    that every checkout and run takes the same one) while inside."""
    path = Path("/tmp") / f"katka-tests-{name}.lock"
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
