"""Cost as the work grows (issue 17): what a produced record and an idle fetch cost the broker
as idle consumers and partitions per consumer grow. Broker CPU (user+system, all threads) is
read from /proc around each step.

- **idle consumers**: N consumers (0, 10, 100, 1,000) each long-poll their own empty partition
  (fetch.max.wait 500 ms) while one producer writes 800 records/s (100 B, linger.ms=0) to
  another topic. Reported: broker CPU per produced record (all of it), and the marginal figure
  (minus what the same idle consumers cost with no producer, measured just before), which is
  what a produce pays for the parked fetches it wakes.
- **partitions per consumer**: one consumer of P idle partitions (10, 100, 1,000) fetching back
  to back with fetch.max.wait 10 ms, with a fetch session (KIP-227: empty incremental fetches)
  and without (every fetch names all P, as librdkafka does). Reported: broker CPU per fetch.
- **producer connections**: N connections (1, 10, 100, 1,000) sharing 2,000 one-record
  Produce requests/s (2 records/s each at 1,000), acks=1. Reported: broker CPU per record, the
  rate reached, and the broker's resident memory per open connection.
- **partitions**: one librdkafka producer spreading 2,000 records/s over P partitions (1 and
  10,000) of one topic. Reported: broker CPU per record, and resident memory per partition
  (what creating the topic added). librdkafka sends one partition per Produce request, so at
  10,000 partitions every record is a request of its own.
- **partitions, batched**: the same rate and linger.ms over P partitions from a producer that
  batches as the Java client does (bench/batching_producer.py: every partition's open batch in
  one request), after one record to every partition. Reported: broker CPU per record, the rate
  reached, Produce requests/s and partitions per request, the client's own CPU per record,
  resident memory per partition, and the broker CPU of each partition's first append.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from bench import batching_producer, cost_workers, procs
from bench.brokers import RunningBroker, start_broker
from bench.settings import Settings
from bench.workloads import create_topic

IDLE_TOPIC = "cost-idle"
LOAD_TOPIC = "cost-load"
WIDE_TOPIC = "cost-wide"
CONNECTIONS_TOPIC = "cost-connections"
# A fresh broker's resident memory settles (katka loads its coordinators and admin API after
# its first answers; a JVM warms up) before the memory a step adds is measured.
SETTLE_S = 3.0
IDLE_MAX_WAIT_MS = 500
WIDE_MAX_WAIT_MS = 10
FIRST_APPEND_MIN_PARTITIONS = 1_000


def idle_consumers(broker: RunningBroker, settings: Settings) -> list[dict[str, Any]]:
    create_topic(broker, IDLE_TOPIC, max(*settings.cost_idle_consumers, 1))
    create_topic(broker, LOAD_TOPIC, 1)
    rows = []
    for count in settings.cost_idle_consumers:
        ready, done = procs.CTX.Event(), procs.CTX.Event()
        fetchers = None
        if count:
            fetchers = procs.start(
                cost_workers.idle_fetchers,
                "127.0.0.1",
                broker.port,
                IDLE_TOPIC,
                count,
                IDLE_MAX_WAIT_MS,
                ready,
                done,
            )
            if not ready.wait(120):
                done.set()
                fetchers[0].kill()
                raise procs.WorkerFailed(f"{count} idle consumers never became ready")
        idle_cpu, idle_s = _cpu_over(broker, settings.cost_seconds)
        cpu_before, began = broker.cpu_seconds(), time.monotonic()
        produced = procs.run(
            cost_workers.paced_producer,
            broker.bootstrap,
            LOAD_TOPIC,
            settings.cost_rate,
            settings.cost_seconds,
            timeout=settings.cost_seconds + 120,
        )
        cpu, seconds = broker.cpu_seconds() - cpu_before, time.monotonic() - began
        fetches = None
        if fetchers is not None:
            done.set()
            fetches = procs.collect(*fetchers, timeout=60)["fetches"]
        sent = max(produced["sent"], 1)
        idle_rate = idle_cpu / idle_s
        rows.append(
            {
                "workload": "cost-idle-consumers",
                "variant": str(count),
                "idle_consumers": count,
                "records": produced["sent"],
                "cpu_us_per_record": round(cpu / sent * 1e6, 1),
                "marginal_cpu_us_per_record": round((cpu - idle_rate * seconds) / sent * 1e6, 1),
                "idle_cpu_per_s": round(idle_rate, 4),
                "idle_fetches": fetches,
            }
        )
    return rows


def partitions_per_consumer(broker: RunningBroker, settings: Settings) -> list[dict[str, Any]]:
    create_topic(broker, WIDE_TOPIC, max(settings.cost_partitions))
    rows = []
    for partitions in settings.cost_partitions:
        for use_session in (True, False):
            ready, go = procs.CTX.Event(), procs.CTX.Event()
            process, results = procs.start(
                cost_workers.wide_fetcher,
                "127.0.0.1",
                broker.port,
                WIDE_TOPIC,
                partitions,
                WIDE_MAX_WAIT_MS,
                use_session,
                settings.cost_seconds,
                ready,
                go,
            )
            if not ready.wait(60):
                process.kill()
                raise procs.WorkerFailed("the wide consumer never became ready")
            cpu_before = broker.cpu_seconds()
            go.set()
            result = procs.collect(process, results, timeout=settings.cost_seconds + 60)
            cpu = broker.cpu_seconds() - cpu_before
            fetches = max(result["fetches"], 1)
            rows.append(
                {
                    "workload": "cost-partitions",
                    "variant": f"{partitions}{'-session' if use_session else '-full'}",
                    "partitions": partitions,
                    "session": use_session,
                    "fetches": result["fetches"],
                    "incremental_fetches": result["incremental_fetches"],
                    "cpu_us_per_fetch": round(cpu / fetches * 1e6, 1),
                }
            )
    return rows


def _on_fresh_brokers(
    broker: RunningBroker,
    settings: Settings,
    sizes: Sequence[int],
    step: Callable[[RunningBroker, Settings, int], dict[str, Any]],
) -> list[dict[str, Any]]:
    """One row per size, each measured on a broker of its own like `broker`."""
    rows = []
    for size in sizes:
        fresh, _ = start_broker(broker.spec)
        try:
            rows.append(step(fresh, settings, size))
        finally:
            fresh.stop()
    return rows


def producer_connections(broker: RunningBroker, settings: Settings) -> list[dict[str, Any]]:
    """On a broker of its own, started for each count: its memory is then this step's alone
    (a broker that served the idle consumers reuses the memory they freed)."""
    return _on_fresh_brokers(broker, settings, settings.cost_connections, _producer_connections)


def _producer_connections(broker: RunningBroker, settings: Settings, count: int) -> dict[str, Any]:
    create_topic(broker, CONNECTIONS_TOPIC, 1)
    time.sleep(SETTLE_S)
    opened, go = procs.CTX.Event(), procs.CTX.Event()
    rss_before = broker.rss_bytes()
    process, results = procs.start(
        cost_workers.many_producers,
        "127.0.0.1",
        broker.port,
        CONNECTIONS_TOPIC,
        count,
        settings.cost_connection_rate,
        settings.cost_seconds,
        opened,
        go,
    )
    if not opened.wait(120):
        process.kill()
        raise procs.WorkerFailed(f"{count} producer connections never opened")
    time.sleep(1)  # the broker has set every connection up
    rss_open = broker.rss_bytes()
    cpu_before, began = broker.cpu_seconds(), time.monotonic()
    go.set()
    result = procs.collect(process, results, timeout=settings.cost_seconds + 120)
    cpu, seconds = broker.cpu_seconds() - cpu_before, time.monotonic() - began
    answered = max(result["answered"], 1)
    return {
        "workload": "cost-connections",
        "variant": str(count),
        "connections": count,
        "sent": result["sent"],
        "answered": result["answered"],
        "records_per_s": round(result["answered"] / seconds, 1),
        "cpu_us_per_record": round(cpu / answered * 1e6, 1),
        "rss_kib_per_connection": round((rss_open - rss_before) / count / 1024, 1),
    }


def many_partitions(broker: RunningBroker, settings: Settings) -> list[dict[str, Any]]:
    """On a broker of its own for each width (see producer_connections); memory per
    partition is what creating the topic and writing to every partition added."""
    return _on_fresh_brokers(broker, settings, settings.cost_many_partitions, _many_partitions)


def _many_partitions(broker: RunningBroker, settings: Settings, partitions: int) -> dict[str, Any]:
    topic = f"cost-spread-{partitions}"
    create_topic(broker, "cost-warm-up", 1)
    time.sleep(SETTLE_S)
    rss_before = broker.rss_bytes()
    procs.run(cost_workers.create_wide_topic, broker.bootstrap, topic, partitions, timeout=1200)
    cpu_before, began = broker.cpu_seconds(), time.monotonic()
    produced = procs.run(
        cost_workers.spread_producer,
        broker.bootstrap,
        topic,
        partitions,
        settings.cost_connection_rate,
        settings.cost_seconds,
        timeout=settings.cost_seconds + 180,
    )
    cpu, seconds = broker.cpu_seconds() - cpu_before, time.monotonic() - began
    rss_written = broker.rss_bytes()
    sent = max(produced["sent"], 1)
    return {
        "workload": "cost-many-partitions",
        "variant": str(partitions),
        "partitions": partitions,
        "client": "librdkafka (one partition per request)",
        "records": produced["sent"],
        "records_per_s": round(produced["sent"] / seconds, 1),
        "produce_requests_per_s": round(produced["produce_requests"] / seconds, 1),
        "cpu_us_per_record": round(cpu / sent * 1e6, 1),
        "rss_kib_per_partition": round((rss_written - rss_before) / partitions / 1024, 2),
    }


def batched_partitions(broker: RunningBroker, settings: Settings) -> list[dict[str, Any]]:
    """As many_partitions, with every partition's open batch in one Produce request."""
    return _on_fresh_brokers(broker, settings, settings.cost_many_partitions, _batched)


def _batched(broker: RunningBroker, settings: Settings, partitions: int) -> dict[str, Any]:
    topic = f"cost-batched-{partitions}"
    create_topic(broker, "cost-warm-up", 1)
    time.sleep(SETTLE_S)
    rss_before = broker.rss_bytes()
    procs.run(cost_workers.create_wide_topic, broker.bootstrap, topic, partitions, timeout=1200)
    warmed, go = procs.CTX.Event(), procs.CTX.Event()
    cpu_warm = broker.cpu_seconds()
    process, results = procs.start(
        batching_producer.batching_producer,
        "127.0.0.1",
        broker.port,
        topic,
        partitions,
        settings.cost_connection_rate,
        settings.cost_seconds,
        settings.linger_ms,
        warmed,
        go,
    )
    if not warmed.wait(600):
        process.kill()
        raise procs.WorkerFailed(f"the first record to each of {partitions} partitions failed")
    cpu_before, began = broker.cpu_seconds(), time.monotonic()
    rss_written = broker.rss_bytes()
    go.set()
    result = procs.collect(process, results, timeout=settings.cost_seconds + 180)
    cpu, seconds = broker.cpu_seconds() - cpu_before, time.monotonic() - began
    acknowledged = max(result["acknowledged"], 1)
    return {
        "workload": "cost-many-partitions-batched",
        "variant": str(partitions),
        "partitions": partitions,
        "client": "Java client's batching (bench/batching_producer.py)",
        "linger_ms": settings.linger_ms,
        "records": result["acknowledged"],
        "sent": result["sent"],
        "records_per_s": round(result["acknowledged"] / seconds, 1),
        "produce_requests_per_s": round(result["produce_requests"] / seconds, 1),
        "partitions_per_request": result["partitions_per_request"],
        "cpu_us_per_record": round(cpu / acknowledged * 1e6, 1),
        "client_cpu_us_per_record": round(result["client_cpu_s"] / acknowledged * 1e6, 1),
        "rss_kib_per_partition": round((rss_written - rss_before) / partitions / 1024, 2),
        # /proc counts CPU in 10 ms ticks: a figure per partition only for many of them.
        "first_append_cpu_us_per_partition": None
        if result["warm_up_acknowledged"] < FIRST_APPEND_MIN_PARTITIONS
        else round((cpu_before - cpu_warm) / result["warm_up_acknowledged"] * 1e6, 1),
    }


def _cpu_over(broker: RunningBroker, seconds: float) -> tuple[float, float]:
    before, began = broker.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return broker.cpu_seconds() - before, time.monotonic() - began
