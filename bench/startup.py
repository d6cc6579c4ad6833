"""Start-up: process spawn to the first answered Metadata request (PING for Redis).

katka is measured empty, and with N partitions of existing data after a clean shutdown and
after a SIGKILL (recovery). Tansu's memory engine and Redis without persistence keep nothing
across a restart, so only their empty start-up is comparable. The embedded broker
(`katka.embedded()`) is timed in a fresh interpreter: import, then start until ready.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from typing import Any

from bench import procs
from bench.brokers import ROOT, BrokerSpec, bytecode_env, start_broker
from bench.settings import Settings


def _summary(samples: list[float]) -> dict[str, Any]:
    return {
        "seconds": round(statistics.median(samples), 4),
        "min_s": round(min(samples), 4),
        "max_s": round(max(samples), 4),
        "samples_s": [round(s, 4) for s in samples],
    }


def empty(spec: BrokerSpec, settings: Settings) -> dict[str, Any]:
    if spec.name.startswith("katka"):
        compile_katka()
    samples, cpus = [], []
    for _ in range(settings.startup_empty_repeats):
        broker, seconds = start_broker(spec)
        cpus.append(broker.cpu_seconds())  # read at once: the CPU to the first answer
        broker.stop()
        samples.append(seconds)
    return {
        "workload": "startup",
        "variant": "empty",
        **_summary(samples),
        "cpu_s": round(statistics.median(cpus), 4),
        "min_cpu_s": round(min(cpus), 4),
    }


def fill_partitions(
    bootstrap: str, topics: list[str], partitions: int, per_partition: int, queue: Any
) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, partitions, 1) for t in topics], request_timeout=120)
    for future in futures.values():
        future.result(120)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
    value = b"s" * 100
    for topic in topics:
        producer.list_topics(topic, timeout=30)
    for i in range(per_partition):
        for topic in topics:
            for p in range(partitions):
                while True:
                    try:
                        producer.produce(topic, value, b"k%d" % i, partition=p)
                        break
                    except BufferError:
                        producer.poll(0.01)
        producer.poll(0)
    left = producer.flush(120)
    queue.put({"unflushed": left})


def count_partitions(bootstrap: str, queue: Any) -> None:
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30)
    queue.put(
        {
            "partitions": sum(
                len(t.partitions) for name, t in metadata.topics.items() if name.startswith("start")
            )
        }
    )


def with_data(spec: BrokerSpec, settings: Settings) -> list[dict[str, Any]]:
    total = settings.startup_partitions
    per_topic = 100 if total >= 100 else total
    topics = [f"start{i}" for i in range(total // per_topic)]
    data_dir = tempfile.mkdtemp(prefix="bench-startup-")
    compile_katka()
    results: list[dict[str, Any]] = []
    try:
        broker, _ = start_broker(spec, data_dir=data_dir)
        procs.run(
            fill_partitions,
            broker.bootstrap,
            topics,
            per_topic,
            settings.startup_records_per_partition,
            timeout=300,
        )
        port = broker.port
        broker.stop()
        samples = []
        for _ in range(settings.startup_repeats):
            broker, seconds = start_broker(spec, data_dir=data_dir, port=port)
            samples.append(seconds)
            broker.stop()
        broker, _ = start_broker(spec, data_dir=data_dir, port=port)
        seen = procs.run(count_partitions, broker.bootstrap, timeout=60)["partitions"]
        broker.stop(hard=True)
        crash_broker, crash_seconds = start_broker(spec, data_dir=data_dir, port=port)
        crash_broker.stop()
        common = {
            "partitions": total,
            "records_per_partition": settings.startup_records_per_partition,
            "partitions_seen_after_restart": seen,
        }
        results.append(
            {"workload": "startup", "variant": f"{total} partitions", **common, **_summary(samples)}
        )
        results.append(
            {
                "workload": "startup",
                "variant": f"{total} partitions after SIGKILL",
                **common,
                **_summary([crash_seconds]),
            }
        )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return results


# `import katka` alone is lazy: the import timed is katka.embed's (the broker's modules, and kio's
# hypothesis strategies when hypothesis is installed, as in a test environment), apart from the
# start. CPU is the process's (the broker's loop thread included).
EMBEDDED_SCRIPT = """
import json, sys, time
began = time.perf_counter()
from katka.embed import embedded
imported = time.perf_counter()
cpu = time.process_time()
with embedded() as broker:
    ready = time.perf_counter()
    ready_cpu = time.process_time() - cpu
print(json.dumps({"import_s": imported - began, "ready_s": ready - imported,
                  "ready_cpu_s": ready_cpu, "hypothesis": "hypothesis" in sys.modules}))
"""


def compile_katka() -> None:
    """Write katka's bytecode once, as a wheel install has it: with PYTHONDONTWRITEBYTECODE set
    (this environment sets it) an editable install recompiles katka on every start (0.2-0.3 s)."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "katka"], cwd=str(ROOT), check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def embedded(settings: Settings) -> dict[str, Any]:
    compile_katka()
    ready, imports, cpus = [], [], []
    hypothesis = False
    for _ in range(max(3, settings.startup_repeats)):
        out = subprocess.run(
            [sys.executable, "-c", EMBEDDED_SCRIPT],
            cwd=str(ROOT),
            env=bytecode_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        values = json.loads(out.strip().splitlines()[-1])
        ready.append(values["ready_s"])
        imports.append(values["import_s"])
        cpus.append(values["ready_cpu_s"])
        hypothesis = values["hypothesis"]
    return {
        "workload": "startup",
        "variant": "embedded",
        **_summary(ready),
        "ready_cpu_s": round(statistics.median(cpus), 4),
        "import_s": round(statistics.median(imports), 4),
        "import_includes_hypothesis": hypothesis,
    }
