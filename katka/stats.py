"""What the broker counts as it works: traffic per partition, requests per API, connections.

Plain integers bumped on the event loop (no locks, no registry): the hot path pays an attribute
increment. Everything that can be read from the broker's state instead (log sizes and offsets,
group offsets and lag, rebalances) is read at scrape time by the admin listener's collector
(katka/admin/metrics.py), which is the only place that knows Prometheus.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

# Seconds; Prometheus' convention for latencies. The last count (index len(BUCKETS_S)) is +Inf.
LATENCY_BUCKETS_S = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip


class LatencyHistogram:
    """Counts per bucket (not cumulative) and the sum of what was observed."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self.sum += seconds

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound, observations <= it) as Prometheus' `le` buckets, +Inf last."""
        buckets = []
        running = 0
        for bound, count in zip((*LATENCY_BUCKETS_S, float("inf")), self.counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return buckets


@dataclass(slots=True)
class PartitionTraffic:
    bytes_in: int = 0
    records_in: int = 0
    bytes_out: int = 0
    records_out: int = 0


@dataclass(slots=True)
class ApiStats:
    requests: int = 0
    errors: int = 0  # a nonzero top-level error code, or the handler failed
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)


@dataclass(slots=True)
class BrokerStats:
    partitions: dict[tuple[str, int], PartitionTraffic] = field(default_factory=dict)
    apis: dict[int, ApiStats] = field(default_factory=dict)
    connections_active: int = 0
    connections_created: int = 0

    def traffic(self, topic: str, partition: int) -> PartitionTraffic:
        key = (topic, partition)
        traffic = self.partitions.get(key)
        if traffic is None:
            traffic = self.partitions[key] = PartitionTraffic()
        return traffic

    def api(self, api_key: int) -> ApiStats:
        stats = self.apis.get(api_key)
        if stats is None:
            stats = self.apis[api_key] = ApiStats()
        return stats

    def produced(self, topic: str, partition: int, size: int, records: int) -> None:
        traffic = self.traffic(topic, partition)
        traffic.bytes_in += size
        traffic.records_in += records

    def fetched(self, topic: str, partition: int, batches: bytes | memoryview) -> None:
        """Count what a Fetch returns: its bytes, and its records from the v2 batch headers
        (whole batches, so the records before the fetch offset in the first one count too)."""
        if not batches:
            return
        traffic = self.traffic(topic, partition)
        traffic.bytes_out += len(batches)
        traffic.records_out += count_records(batches)

    def connection_opened(self) -> None:
        self.connections_active += 1
        self.connections_created += 1

    def connection_closed(self) -> None:
        self.connections_active -= 1


def count_records(batches: bytes | memoryview) -> int:
    """The records count of each complete v2 batch (magic 2; older formats count 0)."""
    view = memoryview(batches)
    position = 0
    total = 0
    while position + 61 <= len(view):
        length = int.from_bytes(view[position + 8 : position + 12], "big", signed=True)
        end = position + 12 + length
        if length <= 0 or end > len(view):
            break
        if view[position + 16] == 2:
            total += int.from_bytes(view[position + 57 : position + 61], "big", signed=True)
        position = end
    return total
