"""katka: a single-process, durable event-streaming broker that speaks the Apache Kafka protocol."""

__version__ = "0.1.0"

from katka.embed import embedded

__all__ = ["embedded"]
