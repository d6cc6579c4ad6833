"""Share groups beyond the partition count: records/s processed vs consumers, share group vs
consumer group, at 10 ms of processing per record on 3 partitions; and share fetch vs plain
fetch of 100 B records with one consumer and no processing.

    python -m bench.share_groups            # writes bench/results/share-groups.{md,jsonl,png}
    python -m bench.share_groups report     # redraws the table and chart from the .jsonl

The share-fetch comparison is also the `share-fetch` workload of `python -m bench run`
(share_fetch below), so it sits in the main results beside the other katka rows.

A consumer group tops out at the partition count (3 × 100 records/s); the goal for the share
group is ≥ 0.8× linear (k × 100 records/s) up to 12 consumers, and a share consumer reading
≥ 0.5× the records/s of a plain consumer. Each consumer is its own spawned process; the rate
is counted over a window that starts once every consumer has reported in.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from katka.reliability.process import BrokerProcess

PARTITIONS = 3
DELAY_S = 0.010
COUNTS = (1, 3, 6, 12)
WINDOW_S = 4.0
RESULTS = Path(__file__).parent / "results"


def worker(
    index: int, kind: str, bootstrap: str, group: str, topic: str, delay: float, out: Any
) -> None:
    """One consumer: processes (sleeps per record) and reports (index, records so far)."""
    from confluent_kafka import Consumer, ShareConsumer

    processed, last = 0, time.monotonic()
    if kind == "share":
        settings: dict[str, Any] = {"bootstrap.servers": bootstrap, "group.id": group}
        if delay:
            settings["max.poll.records"] = 10  # slow work: leave the rest to the others
        share = ShareConsumer(settings)
        share.subscribe([topic])
        poll = lambda: list(share.poll(0.2))  # noqa: E731
    else:
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000,
            }
        )
        consumer.subscribe([topic])
        poll = lambda: consumer.consume(10 if delay else 1000, 0.2)  # noqa: E731
    while True:
        for message in poll():
            if message.error():
                continue
            if delay:
                time.sleep(delay)
            processed += 1
        now = time.monotonic()
        if now - last >= 0.1:
            out.put((index, processed))
            last = now


def produce(bootstrap: str, topic: str, count: int, size: int = 100) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    value = b"x" * size
    for i in range(count):
        producer.produce(topic, key=b"%d" % i, value=value)
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(60)


def set_earliest(bootstrap: str, group: str) -> None:
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ResourceType,
    )

    entry = ConfigEntry(
        "share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET
    )
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=[entry])
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.incremental_alter_configs([resource])[resource].result(10)


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(10)


def measure(kind: str, bootstrap: str, topic: str, consumers: int, delay: float) -> float:
    """Records/s processed by `consumers` processes over WINDOW_S, counted from when every
    one of them has processed a record (consumer group: reported in, as idle ones never do)."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    group = f"{kind}-{consumers}-{time.monotonic_ns()}"
    if kind == "share":
        set_earliest(bootstrap, group)
    processes = [
        context.Process(
            target=worker, args=(i, kind, bootstrap, group, topic, delay, out), daemon=True
        )
        for i in range(consumers)
    ]
    for process in processes:
        process.start()
    counts: dict[int, int] = {}
    window: tuple[float, int] | None = None
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                index, count = out.get(timeout=0.5)
            except queue.Empty:
                continue
            counts[index] = count
            total, now = sum(counts.values()), time.monotonic()
            busy = [c for c in counts.values() if c > 0]
            ready = len(counts) == consumers and (
                len(busy) == consumers or (kind == "consumer" and len(busy) >= PARTITIONS)
            )
            if window is None and ready:
                window = (now, total)
            elif window is not None and now - window[0] >= WINDOW_S:
                return (total - window[1]) / (now - window[0])
        raise RuntimeError(f"{kind} with {consumers} consumers never got going: {counts}")
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.join(5)


FETCH_RECORDS = 400_000  # enough for the window at ~100k records/s, with the warm-up


def share_fetch(broker: Any, settings: Any) -> list[dict[str, Any]]:
    """`python -m bench run` workload: one consumer reading 100 B records with no processing,
    a plain consumer group member then a share consumer, on the running broker."""
    topic = f"bench-share-fetch-{time.monotonic_ns()}"
    create_topic(broker.bootstrap, topic, 1)
    produce(broker.bootstrap, topic, FETCH_RECORDS)
    rates = {kind: measure(kind, broker.bootstrap, topic, 1, 0) for kind in ("consumer", "share")}
    rows: list[dict[str, Any]] = [
        {"workload": "share-fetch", "variant": kind, "records_per_s": round(rate)}
        for kind, rate in rates.items()
    ]
    ratio = rates["share"] / rates["consumer"] if rates["consumer"] else None
    rows.append(
        {
            "workload": "share-fetch",
            "variant": "ratio",
            "share_over_plain": None if ratio is None else round(ratio, 3),
        }
    )
    return rows


def main() -> None:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as data_dir:
        broker = BrokerProcess(
            Path(data_dir),
            overrides=[
                "group.initial.rebalance.delay.ms=0",
                "group.share.heartbeat.interval.ms=500",
            ],
        )
        broker.start(30)
        try:
            bootstrap = broker.bootstrap
            create_topic(bootstrap, "jobs", PARTITIONS)
            produce(bootstrap, "jobs", 60_000)
            for consumers in COUNTS:
                for kind in ("share", "consumer"):
                    rate = measure(kind, bootstrap, "jobs", consumers, DELAY_S)
                    rows.append(_row("scaling", kind, consumers, rate))
            create_topic(bootstrap, "plain", 1)
            produce(bootstrap, "plain", 400_000)
            for kind in ("consumer", "share"):
                rows.append(_row("fetch_100B", kind, 1, measure(kind, bootstrap, "plain", 1, 0)))
        finally:
            broker.kill()
    write(rows)


def _row(workload: str, kind: str, consumers: int, rate: float) -> dict[str, Any]:
    row = {"workload": workload, "kind": kind, "consumers": consumers, "records_per_s": rate}
    print(json.dumps(row), flush=True)
    return row


def write(rows: list[dict[str, Any]]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "share-groups.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    scaling = {
        (r["kind"], r["consumers"]): r["records_per_s"] for r in rows if r["workload"] == "scaling"
    }
    fetch = {r["kind"]: r["records_per_s"] for r in rows if r["workload"] == "fetch_100B"}
    lines = [
        "# Share groups: records/s processed vs consumers",
        "",
        f"{PARTITIONS} partitions, {DELAY_S * 1000:.0f} ms of processing per record, each "
        "consumer its own process (`python -m bench.share_groups`). Linear = consumers × 100.",
        "",
        "| consumers | share group | × linear | consumer group | × linear |",
        "|---|---|---|---|---|",
    ]
    for n in COUNTS:
        share, group, linear = scaling[("share", n)], scaling[("consumer", n)], n / DELAY_S
        lines.append(
            f"| {n} | {share:.0f} | {share / linear:.2f} | {group:.0f} | {group / linear:.2f} |"
        )
    ratio = fetch["share"] / fetch["consumer"]
    lines += [
        "",
        f"One consumer, 100 B records, no processing: plain fetch {fetch['consumer']:.0f} "
        f"records/s, share fetch {fetch['share']:.0f} records/s ({ratio:.2f}×).",
    ]
    (RESULTS / "share-groups.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return  # the table is written; the chart needs the bench extra
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(COUNTS, [n / DELAY_S for n in COUNTS], "k:", label="linear")
    for kind, label in (("share", "share group"), ("consumer", "consumer group")):
        ax.plot(COUNTS, [scaling[(kind, n)] for n in COUNTS], "o-", label=label)
    ax.set_xlabel("consumers (3 partitions, 10 ms per record)")
    ax.set_ylabel("records/s processed")
    ax.set_xticks(COUNTS)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / "share-groups.png", dpi=110)


if __name__ == "__main__":
    if sys.argv[1:] == ["report"]:
        lines = (RESULTS / "share-groups.jsonl").read_text().splitlines()
        write([json.loads(line) for line in lines])
    else:
        main()
