"""Broker CPU per produced record for small Produce requests (issue 17's latency and
10,000-partition rows in miniature).

    python -m bench produce-cost [--rate 3000] [--seconds 5] [--cases one,wide] [--profile DIR]

Each case starts a fresh `katka serve` from this checkout, creates its topic, then one
confluent-kafka producer (acks=all, 100-byte values) writes `rate` records/s for `seconds`:

- one:    1 partition, linger.ms=0 (each record close to its own Produce request)
- one5:   1 partition, linger.ms=5 (librdkafka's default: the 10,000-partition row's reference)
- wide:   10,000 partitions, record i to partition i mod 10,000, linger.ms=5 (librdkafka:
          one partition per request, so a request per record)
- one5-batched, wide-batched: one5 and wide from bench/batching_producer.py (the Java
          client's batching: every partition's open batch in one request), after one record
          to every partition

and the broker's user+sys CPU seconds (from /proc, before and after) are divided by the
records acknowledged. CPU per record moves far less with the machine's load than latency does,
so before/after figures a minute apart compare. `--profile DIR` also records the broker with
py-spy (200 Hz) during each case and writes DIR/CASE.raw and a summary (bench/profile.py's).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bench import batching_producer, cost_workers, procs, workloads
from bench.brokers import start_broker
from bench.profile import _record, hot_lines, summarise
from bench.run import SPECS

CASES: dict[str, tuple[int, int]] = {  # name -> (partitions, linger.ms)
    "one": (1, 0),
    "one5": (1, 5),
    "wide": (10_000, 5),
    "one5-batched": (1, 5),
    "wide-batched": (10_000, 5),
}


def measure(case: str, rate: int, seconds: float, profile: Path | None) -> dict[str, Any]:
    if case.endswith("-batched"):
        return measure_batched(case, rate, seconds, profile)
    partitions, linger_ms = CASES[case]
    spec = next(s for s in SPECS if s.name == "katka")
    broker, _ = start_broker(spec)
    try:
        topic = f"produce-cost-{case}"
        if partitions > 1:
            procs.run(
                cost_workers.create_wide_topic, broker.bootstrap, topic, partitions, timeout=1200
            )
        else:
            workloads.create_topic(broker, topic, partitions)
        # A short warm-up: the first records load handlers and open the segments.
        procs.run(
            cost_workers.spread_producer, broker.bootstrap, topic, partitions, 200, 0.5,
            linger_ms=linger_ms, timeout=120,
        )  # fmt: skip
        time.sleep(0.5)
        spy = _record(broker.pid, seconds + 1, profile / f"{case}.raw") if profile else None
        times_before = broker._ps.cpu_times()
        produced = procs.run(
            cost_workers.spread_producer, broker.bootstrap, topic, partitions, rate, seconds,
            linger_ms=linger_ms, timeout=seconds + 180,
        )  # fmt: skip
        times_after = broker._ps.cpu_times()
        if spy is not None:
            spy.wait(60)
    finally:
        broker.stop()
    sent = max(produced["sent"], 1)
    user = times_after.user - times_before.user
    system = times_after.system - times_before.system
    cpu = user + system
    return {
        "case": case,
        "partitions": partitions,
        "linger_ms": linger_ms,
        "records": produced["sent"],
        "records_per_request": round(sent / max(produced["produce_requests"], 1), 2),
        "broker_cpu_s": round(cpu, 3),
        "cpu_us_per_record": round(cpu / sent * 1e6, 1),
        "user_us_per_record": round(user / sent * 1e6, 1),
        "sys_us_per_record": round(system / sent * 1e6, 1),
        "cpu_us_per_request": round(cpu / max(produced["produce_requests"], 1) * 1e6, 1),
        "load_1m": round(os.getloadavg()[0], 2),
    }


def measure_batched(case: str, rate: int, seconds: float, profile: Path | None) -> dict[str, Any]:
    partitions, linger_ms = CASES[case]
    spec = next(s for s in SPECS if s.name == "katka")
    broker, _ = start_broker(spec)
    try:
        topic = f"produce-cost-{case}"
        procs.run(cost_workers.create_wide_topic, broker.bootstrap, topic, partitions, timeout=1200)
        warmed, go = procs.CTX.Event(), procs.CTX.Event()
        process, results = procs.start(
            batching_producer.batching_producer, "127.0.0.1", broker.port, topic, partitions,
            rate, seconds, linger_ms, warmed, go,
        )  # fmt: skip
        if not warmed.wait(600):
            process.kill()
            raise procs.WorkerFailed("the first record to every partition failed")
        time.sleep(0.5)
        spy = _record(broker.pid, seconds + 1, profile / f"{case}.raw") if profile else None
        times_before = broker._ps.cpu_times()
        go.set()
        produced = procs.collect(process, results, timeout=seconds + 180)
        times_after = broker._ps.cpu_times()
        if spy is not None:
            spy.wait(60)
    finally:
        broker.stop()
    acknowledged = max(produced["acknowledged"], 1)
    requests = max(produced["produce_requests"], 1)
    user = times_after.user - times_before.user
    system = times_after.system - times_before.system
    cpu = user + system
    return {
        "case": case,
        "partitions": partitions,
        "linger_ms": linger_ms,
        "records": produced["acknowledged"],
        "records_per_request": round(acknowledged / requests, 2),
        "partitions_per_request": produced["partitions_per_request"],
        "broker_cpu_s": round(cpu, 3),
        "cpu_us_per_record": round(cpu / acknowledged * 1e6, 1),
        "user_us_per_record": round(user / acknowledged * 1e6, 1),
        "sys_us_per_record": round(system / acknowledged * 1e6, 1),
        "cpu_us_per_request": round(cpu / requests * 1e6, 1),
        "client_cpu_us_per_record": round(produced["client_cpu_s"] / acknowledged * 1e6, 1),
        "load_1m": round(os.getloadavg()[0], 2),
    }


def run(rate: int, seconds: float, cases: list[str], profile: Path | None) -> list[dict[str, Any]]:
    if profile:
        profile.mkdir(parents=True, exist_ok=True)
    results = []
    for case in cases:
        result = measure(case, rate, seconds, profile)
        print(result, flush=True)
        results.append(result)
        if profile and (profile / f"{case}.raw").exists():
            raw = profile / f"{case}.raw"
            total, own, inclusive = summarise(raw, top=40)
            lines = [f"# {case} ({total} samples)", "", "self %:"]
            lines += [f"{p:6.1f} {name}" for name, p in own]
            lines += ["", "inclusive %:"]
            lines += [f"{p:6.1f} {name}" for name, p in inclusive]
            lines += ["", "innermost katka line:"]
            lines += [f"{p:6.1f} {name}" for name, p in hot_lines(raw, top=30)]
            (profile / f"{case}.txt").write_text("\n".join(lines) + "\n")
    return results
