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
"""

from __future__ import annotations

import time
from typing import Any

from bench import cost_workers, procs
from bench.brokers import RunningBroker
from bench.settings import Settings
from bench.workloads import create_topic

IDLE_TOPIC = "cost-idle"
LOAD_TOPIC = "cost-load"
WIDE_TOPIC = "cost-wide"
IDLE_MAX_WAIT_MS = 500
WIDE_MAX_WAIT_MS = 10


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


def _cpu_over(broker: RunningBroker, seconds: float) -> tuple[float, float]:
    before, began = broker.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return broker.cpu_seconds() - before, time.monotonic() - began
