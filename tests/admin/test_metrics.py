"""The /metrics collector over a broker with no sockets: what a scrape says after a produce,
a fetch, a commit and a few requests, parsed back with prometheus_client's own parser."""

from __future__ import annotations

import datetime
import struct
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from katka import api as handlers
from katka.admin import metrics
from katka.admin.server import respond
from katka.admin.source import BrokerSource
from katka.api import fetch, offset_commit, produce
from katka.errors import ErrorCode
from katka.protocol.records import build_batch
from katka.server.dispatch import Dispatcher, build_registry
from katka.stats import LatencyHistogram, count_records
from tests.api.harness import ApiHarness

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def harness() -> Iterator[ApiHarness]:
    harness = ApiHarness()
    yield harness
    harness.close()


def scrape(harness: ApiHarness) -> Samples:
    text = metrics.exposition(BrokerSource(harness.node)).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def produce_batch(harness: ApiHarness, timestamp_ms: int, *values: bytes) -> None:
    records = [(None, v, (), timestamp_ms + i) for i, v in enumerate(values)]
    response = harness.call(
        produce,
        9,
        acks=1,
        timeout=datetime.timedelta(seconds=5),
        topic_data=[
            {
                "name": "orders",
                "partition_data": [{"index": 0, "records": build_batch(records)}],  # type: ignore[arg-type]
            }
        ],
    )
    assert response.responses[0].partition_responses[0].error_code == ErrorCode.none


def test_a_scrape_reads_traffic_offsets_and_lag_in_records_and_seconds(
    harness: ApiHarness,
) -> None:
    harness.node.topics.create_topic("orders", 1, {})
    now_ms = harness.clock.now_ms()
    produce_batch(harness, now_ms - 30_000, b"a" * 10, b"b" * 10, b"c" * 10)
    harness.call(
        fetch,
        12,
        max_wait=datetime.timedelta(0),
        min_bytes=1,
        max_bytes=1 << 20,
        isolation_level=0,
        session_epoch=-1,
        topics=[
            {
                "topic": "orders",
                "partitions": [{"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20}],
            }
        ],
    )
    committed = harness.call(
        offset_commit,
        8,
        group_id="billing",
        generation_id_or_member_epoch=-1,
        member_id="",
        topics=[
            {
                "name": "orders",
                "partitions": [
                    {"partition_index": 0, "committed_offset": 1, "committed_metadata": ""}
                ],
            }
        ],
    )
    assert committed.topics[0].partitions[0].error_code == ErrorCode.none

    samples = scrape(harness)
    partition = {"topic": "orders", "partition": "0"}
    assert value(samples, "kafka_server_brokertopicmetrics_messagesin_total", **partition) == 3
    bytes_in = value(samples, "kafka_server_brokertopicmetrics_bytesin_total", **partition)
    assert bytes_in > 30
    assert value(samples, "kafka_server_brokertopicmetrics_bytesout_total", **partition) == bytes_in
    assert value(samples, "katka_server_brokertopicmetrics_messagesout_total", **partition) == 3
    assert value(samples, "kafka_log_log_logendoffset", **partition) == 3
    assert value(samples, "kafka_log_log_logstartoffset", **partition) == 0
    assert value(samples, "kafka_log_log_size", **partition) == bytes_in
    group = {"consumergroup": "billing", **partition}
    assert value(samples, "kafka_consumergroup_current_offset", **group) == 1
    assert value(samples, "kafka_consumergroup_lag", **group) == 2
    # The next unconsumed record (offset 1) was written 30 s - 1 ms before now.
    assert value(samples, "katka_consumergroup_lag_seconds", **group) == pytest.approx(29.999)

    harness.clock.advance(10_000)
    later = scrape(harness)
    assert value(later, "katka_consumergroup_lag_seconds", **group) == pytest.approx(39.999)


def test_requests_are_counted_per_api_with_errors_and_latency(harness: ApiHarness) -> None:
    dispatcher = Dispatcher(build_registry(handlers.ALL), harness.node)
    for correlation_id in range(3):
        dispatcher.dispatch(request_frame(18, 0, correlation_id, b""), "127.0.0.1")
    # An answer with a top-level error: Heartbeat v0 from a stranger to a group nobody joined.
    heartbeat = _string("nobody") + struct.pack(">i", 1) + _string("stranger")
    dispatcher.dispatch(request_frame(12, 0, 9, heartbeat), "127.0.0.1")

    samples = scrape(harness)
    assert value(samples, "kafka_network_requestmetrics_requests_total", request="ApiVersions") == 3
    assert value(samples, "kafka_network_requestmetrics_errors_total", request="ApiVersions") == 0
    assert value(samples, "kafka_network_requestmetrics_requests_total", request="Heartbeat") == 1
    assert value(samples, "kafka_network_requestmetrics_errors_total", request="Heartbeat") == 1
    assert (
        value(
            samples, "kafka_network_requestmetrics_totaltime_seconds_count", request="ApiVersions"
        )
        == 3
    )
    assert (
        value(
            samples,
            "kafka_network_requestmetrics_totaltime_seconds_bucket",
            request="ApiVersions",
            le="+Inf",
        )
        == 3
    )
    assert value(samples, "kafka_log_logflushstats_logflush_seconds_count") >= 0
    assert value(samples, "kafka_server_socket_server_metrics_connections") == 0


def test_the_endpoint_answers_prometheus_text_on_the_admin_listener(harness: ApiHarness) -> None:
    response = respond(BrokerSource(harness.node), b"GET /metrics HTTP/1.1\r\nHost: x")
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Content-Type: text/plain; version=0.0.4" in head
    assert b"# TYPE kafka_log_log_size gauge" in body
    head_only = respond(BrokerSource(harness.node), b"HEAD /metrics HTTP/1.1\r\nHost: x")
    assert head_only.endswith(b"\r\n\r\n")


def test_histograms_are_cumulative_and_records_are_counted_from_batch_headers() -> None:
    histogram = LatencyHistogram()
    for seconds in (0.0001, 0.003, 0.003, 100.0):
        histogram.observe(seconds)
    buckets = dict(histogram.cumulative())
    assert (buckets["0.0005"], buckets["0.005"], buckets["30.0"], buckets["+Inf"]) == (1, 3, 3, 4)
    assert histogram.count == 4
    two = build_batch([(None, b"x", (), 1), (None, b"y", (), 2)])  # type: ignore[arg-type]
    one = build_batch([(None, b"z", (), 3)])  # type: ignore[arg-type]
    assert count_records(two + one) == 3
    assert count_records(two + one[:20]) == 2  # a partial batch at the end counts nothing


def request_frame(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    return struct.pack(">hhi", api_key, version, correlation_id) + _string("t") + body


def _string(text: str) -> bytes:
    return struct.pack(">h", len(text)) + text.encode()
