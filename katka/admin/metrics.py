"""`GET /metrics`: the broker in Prometheus' text format, read from its state at scrape time.

Collectors, not a set of live metric objects: log sizes and offsets, group offsets and lag,
rebalances and storms are read from the source's documents when Prometheus scrapes
(ViewCollector: the broker's own on its event loop, or a Kafka cluster's under `katka console
--bootstrap-server`); only what cannot be read back later (traffic, requests, connections,
fsync times) is counted as it happens, as plain integers (katka/stats.py). Names follow what
Prometheus' JMX exporter makes of Kafka's JMX names, or kafka_exporter's for consumer groups,
where one exists; the rest are katka_*. docs/metrics.md has the mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from katka import api
from katka.cli.group.storms import STORM_MIN_INTERVAL_MS
from katka.stats import LatencyHistogram

if TYPE_CHECKING:
    from katka.admin.source import ViewSource
    from katka.node import Node

# The classic text format (names are plain ASCII), which every Prometheus 2.x parses.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PARTITION = ["topic", "partition"]
GROUP_PARTITION = ["consumergroup", "topic", "partition"]


def _api_name(module_name: str) -> str:
    """Kafka's request name (RequestMetrics' request= tag): offset_commit -> OffsetCommit."""
    return "".join(word.capitalize() for word in module_name.split("_"))


API_NAMES: dict[int, str] = {key: _api_name(name) for key, (name, _) in api.HANDLERS.items()}


def exposition(source: ViewSource) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ViewCollector(source))
    node = getattr(source, "node", None)
    if node is not None:  # what only the broker itself counts: traffic, requests, fsyncs
        registry.register(BrokerCollector(node))
    return generate_latest(registry)


class ViewCollector(Collector):
    """Offsets, sizes and groups from a source's documents: the same for a katka broker and
    for a Kafka cluster seen through the protocol (`katka console --bootstrap-server`)."""

    def __init__(self, source: ViewSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self._partitions()
        yield from self._groups()

    def _partitions(self) -> Iterator[Metric]:
        size = GaugeMetricFamily(
            "kafka_log_log_size", "Log size in bytes (Log Size)", labels=PARTITION
        )
        start = GaugeMetricFamily(
            "kafka_log_log_logstartoffset",
            "Log start offset (Log LogStartOffset)",
            labels=PARTITION,
        )
        end = GaugeMetricFamily(
            "kafka_log_log_logendoffset", "Log end offset (Log LogEndOffset)", labels=PARTITION
        )
        high_watermark = GaugeMetricFamily(
            "kafka_cluster_partition_highwatermark",
            "High watermark: the offset consumers read up to",
            labels=PARTITION,
        )
        document = self.source.view("topics") or {"topics": []}
        for topic in document["topics"]:
            for entry in topic["partitions"]:
                labels = [topic["name"], str(entry["partition"])]
                for family, field in (
                    (size, "size_bytes"),
                    (start, "log_start_offset"),
                    (end, "log_end_offset"),
                    (high_watermark, "high_watermark"),
                ):
                    if entry.get(field) is not None:  # not every source knows every field
                        family.add_metric(labels, entry[field])
        yield from (size, start, end, high_watermark)

    def _groups(self) -> Iterator[Metric]:
        members = GaugeMetricFamily(
            "kafka_consumergroup_members", "Members of the group", labels=["consumergroup"]
        )
        state = GaugeMetricFamily(
            "katka_consumergroup_state",
            "1 for the group's current state",
            labels=["consumergroup", "state"],
        )
        offset = GaugeMetricFamily(
            "kafka_consumergroup_current_offset", "Committed offset", labels=GROUP_PARTITION
        )
        lag = GaugeMetricFamily(
            "kafka_consumergroup_lag",
            "High watermark minus committed offset, in records",
            labels=GROUP_PARTITION,
        )
        lag_seconds = GaugeMetricFamily(
            "katka_consumergroup_lag_seconds",
            "Age of the next record the group has not consumed (0 when caught up)",
            labels=GROUP_PARTITION,
        )
        rebalances = CounterMetricFamily(
            "katka_consumergroup_rebalances",
            "Completed rebalances by what triggered them",
            labels=["consumergroup", "trigger"],
        )
        storm = GaugeMetricFamily(
            "katka_consumergroup_rebalance_storm",
            "1 while one member keeps triggering quick rebalances (as `katka group rebalances`)",
            labels=["consumergroup", "member"],
        )
        listing = self.source.view("groups") or {"groups": []}
        for summary in sorted(listing["groups"], key=lambda g: g["group_id"]):
            group_id = summary["group_id"]
            members.add_metric([group_id], len(summary["members"]))
            state.add_metric([group_id, summary["state"]], 1)
            for trigger, count in sorted(summary.get("rebalances", {}).items()):
                rebalances.add_metric([group_id, trigger], count)
            document = self.source.view("lag", group_id)
            history = (
                None
                if "rebalances" in self.source.missing
                else self.source.view("rebalances", group_id)
            )
            now_ms = document["now_ms"] if document else None
            flapping = _storming_members(history, now_ms) if history and now_ms else []
            if not flapping:
                storm.add_metric([group_id, ""], 0)
            for who in flapping:
                storm.add_metric([group_id, who], 1)
            for row in document["partitions"] if document else []:
                labels = [group_id, row["topic"], str(row["partition"])]
                offset.add_metric(labels, row["committed_offset"])
                if row["lag"] is not None:
                    lag.add_metric(labels, row["lag"])
                if row["lag_ms"] is not None:
                    lag_seconds.add_metric(labels, row["lag_ms"] / 1000)
        yield from (members, state, offset, lag, lag_seconds, rebalances, storm)


def _storming_members(history: dict[str, Any], now_ms: int) -> list[str]:
    """The members behind a storm whose last rebalance is within the storm interval of now."""
    interval_ms = max(STORM_MIN_INTERVAL_MS, 2 * (history.get("session_timeout_ms") or 0))
    return sorted(
        {storm["who"] for storm in history["storms"] if now_ms - storm["last_ms"] < interval_ms}
    )


class BrokerCollector(Collector):
    """What only the broker itself can count as it happens (katka/stats.py)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        yield from self._traffic()
        yield from self._requests()
        yield from self._connections()
        yield _histogram(
            "kafka_log_logflushstats_logflush_seconds",
            "Time of each group-commit fsync round (LogFlushStats LogFlushRateAndTimeMs)",
            [],
            [([], self.node.durability.fsync_latency)],
        )

    def _traffic(self) -> Iterator[Metric]:
        node = self.node
        traffic = {
            "kafka_server_brokertopicmetrics_bytesin": (
                "Bytes produced (BytesInPerSec)",
                "bytes_in",
            ),
            "kafka_server_brokertopicmetrics_messagesin": (
                "Records produced (MessagesInPerSec)",
                "records_in",
            ),
            "kafka_server_brokertopicmetrics_bytesout": (
                "Bytes returned to fetches (BytesOutPerSec)",
                "bytes_out",
            ),
            "katka_server_brokertopicmetrics_messagesout": (
                "Records in the batches returned to fetches (no Kafka counterpart)",
                "records_out",
            ),
        }
        for name, (documentation, attribute) in traffic.items():
            family = CounterMetricFamily(name, documentation, labels=PARTITION)
            for (topic, partition), counts in sorted(node.stats.partitions.items()):
                family.add_metric([topic, str(partition)], getattr(counts, attribute))
            yield family

    # --- requests and connections -------------------------------------------------------------

    def _requests(self) -> Iterator[Metric]:
        apis = sorted(
            (API_NAMES.get(key, str(key)), stats) for key, stats in self.node.stats.apis.items()
        )
        requests = CounterMetricFamily(
            "kafka_network_requestmetrics_requests",
            "Requests received (RequestMetrics RequestsPerSec)",
            labels=["request"],
        )
        errors = CounterMetricFamily(
            "kafka_network_requestmetrics_errors",
            "Requests answered with a top-level error code, or whose handler failed "
            "(RequestMetrics ErrorsPerSec)",
            labels=["request"],
        )
        for name, stats in apis:
            requests.add_metric([name], stats.requests)
            errors.add_metric([name], stats.errors)
        yield requests
        yield errors
        yield _histogram(
            "kafka_network_requestmetrics_totaltime_seconds",
            "Time from decoding a request to its encoded response (RequestMetrics TotalTimeMs)",
            ["request"],
            [([name], stats.latency) for name, stats in apis],
        )

    def _connections(self) -> Iterator[Metric]:
        stats = self.node.stats
        yield GaugeMetricFamily(
            "kafka_server_socket_server_metrics_connections",
            "Open client connections (socket-server-metrics connection-count)",
            value=stats.connections_active,
        )
        yield CounterMetricFamily(
            "kafka_server_socket_server_metrics_connection_creation",
            "Client connections accepted (socket-server-metrics connection-creation-total)",
            value=stats.connections_created,
        )


def _histogram(
    name: str,
    documentation: str,
    labels: list[str],
    series: list[tuple[list[str], LatencyHistogram]],
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for values, histogram in series:
        family.add_metric(values, histogram.cumulative(), histogram.sum)
    return family
