"""`GET /metrics`: the broker in Prometheus' text format, read from its state at scrape time.

A Collector, not a set of live metric objects: log sizes and offsets, group offsets and lag,
rebalances and storms are read from the broker when Prometheus scrapes (on the event loop, the
one owner of that state); only what cannot be read back later (traffic, requests, connections,
fsync times) is counted as it happens, as plain integers (katka/stats.py). Names follow what
Prometheus' JMX exporter makes of Kafka's JMX names, or kafka_exporter's for consumer groups,
where one exists; the rest are katka_*. docs/metrics.md has the mapping.
"""

from __future__ import annotations

import dataclasses
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
from katka.admin import views
from katka.cli.group.storms import STORM_MIN_INTERVAL_MS, detect_storms
from katka.errors import KafkaError
from katka.stats import LatencyHistogram

if TYPE_CHECKING:
    from katka.node import Node

# The classic text format (names are plain ASCII), which every Prometheus 2.x parses.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PARTITION = ["topic", "partition"]
GROUP_PARTITION = ["consumergroup", "topic", "partition"]


def _api_name(module: Any) -> str:
    """Kafka's request name (RequestMetrics' request= tag): offset_commit -> OffsetCommit."""
    return "".join(word.capitalize() for word in module.__name__.rsplit(".", 1)[1].split("_"))


API_NAMES: dict[int, str] = {module.API_KEY: _api_name(module) for module in api.ALL}


def exposition(node: Node) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BrokerCollector(node))
    return generate_latest(registry)


class BrokerCollector(Collector):
    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        yield from self._partitions()
        yield from self._requests()
        yield from self._connections()
        yield from self._groups()
        yield _histogram(
            "kafka_log_logflushstats_logflush_seconds",
            "Time of each group-commit fsync round (LogFlushStats LogFlushRateAndTimeMs)",
            [],
            [([], self.node.durability.fsync_latency)],
        )

    # --- topics and partitions ----------------------------------------------------------------

    def _partitions(self) -> Iterator[Metric]:
        node = self.node
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
        for info in node.topics.catalog:
            for partition in range(info.partitions):
                try:
                    log = node.topics.get_log(info.name, partition)
                except KafkaError:
                    continue  # being created or deleted
                labels = [info.name, str(partition)]
                size.add_metric(labels, log.size_bytes)
                start.add_metric(labels, log.log_start_offset)
                end.add_metric(labels, log.log_end_offset)
                high_watermark.add_metric(labels, log.high_watermark)
        yield from (size, start, end, high_watermark)
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

    # --- consumer groups ----------------------------------------------------------------------

    def _groups(self) -> Iterator[Metric]:
        node = self.node
        coordinator = node.coordinator
        summaries = sorted(coordinator.group_summaries(), key=lambda s: s.group_id)
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
        now_ms = node.clock.now_ms()
        for summary in summaries:
            group_id = summary.group_id
            members.add_metric([group_id], len(summary.members))
            state.add_metric([group_id, summary.state], 1)
            for trigger, count in sorted(summary.rebalances.items()):
                rebalances.add_metric([group_id, trigger], count)
            flapping = _storming_members(node, group_id, summary, now_ms)
            if not flapping:
                storm.add_metric([group_id, ""], 0)
            for who in flapping:
                storm.add_metric([group_id, who], 1)
            document = views.lag(node, group_id)
            for row in document["partitions"] if document else []:
                labels = [group_id, row["topic"], str(row["partition"])]
                offset.add_metric(labels, row["committed_offset"])
                if row["lag"] is not None:
                    lag.add_metric(labels, row["lag"])
                if row["lag_ms"] is not None:
                    lag_seconds.add_metric(labels, row["lag_ms"] / 1000)
        yield from (members, state, offset, lag, lag_seconds, rebalances, storm)


def _storming_members(node: Node, group_id: str, summary: Any, now_ms: int) -> list[str]:
    """The members behind a storm whose last rebalance is within the storm interval of now."""
    timeouts = [m.session_timeout_ms for m in summary.members if m.session_timeout_ms is not None]
    session_timeout_ms = max(timeouts) if timeouts else None
    history = [dataclasses.asdict(entry) for entry in node.coordinator.rebalance_history(group_id)]
    interval_ms = max(STORM_MIN_INTERVAL_MS, 2 * (session_timeout_ms or 0))
    return sorted(
        {
            storm.who
            for storm in detect_storms(history, session_timeout_ms)
            if now_ms - storm.last_ms < interval_ms
        }
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
