"""katka: a single-process, durable event-streaming broker that speaks the Apache Kafka protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["embedded"]

if TYPE_CHECKING:
    from katka.embed import embedded


def __getattr__(name: str) -> Any:
    # Imported lazily so `import katka` (the CLI, the pytest plugin) stays cheap.
    if name == "embedded":
        from katka.embed import embedded

        return embedded
    raise AttributeError(name)
