"""Security on katka (issue 14): what TLS, SASL and ACLs cost against the same broker without them.

- tls: one katka with a PLAINTEXT and a SASL_SSL (SCRAM-SHA-512) listener; the same records
  (100 B and 1 KiB, keyed, 6 partitions, linger.ms=5) produced and read back (assign) through
  each; the row to watch is SASL_SSL / PLAINTEXT records/s (target >= 0.6 for produce and
  consume at both sizes). Rounds alternate the listeners so a burst of other work on the shared
  machine hits both alike.
- acl: broker CPU per produced record with small requests (linger.ms=0, 100 B) on a katka
  without an authorizer and on one with StandardAuthorizer and 1,000 ACLs (the producer's
  principal allowed by one of them); the row is the CPU ratio (target < 1.05).

Certificates are made with the openssl command in a temporary directory; each client runs in
its own spawned process (bench/procs.py), as the other workloads do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import kafka_workers, procs
from bench.brokers import ROOT, BrokerSpec, RunningBroker, free_port, wait_until_answers
from bench.settings import Settings

USER, PASSWORD = "bench", "bench-secret"
ACL_COUNT = 1000
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def _openssl(directory: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)


def make_key_store(directory: Path) -> tuple[Path, Path]:
    """A CA and the broker's PEM key store (SAN 127.0.0.1); returns (key store, CA)."""
    _openssl(directory, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=bench-ca", "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    _openssl(directory, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-keyout", "broker.key", "-out", "broker.csr")  # fmt: skip
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl(directory, "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem",
             "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext",
             "-out", "broker.pem")  # fmt: skip
    store = directory / "broker-keystore.pem"
    store.write_text(
        (directory / "broker.key").read_text() + (directory / "broker.pem").read_text()
    )
    return store, directory / "ca.pem"


def start_katka(name: str, properties: dict[str, str], directory: Path) -> RunningBroker:
    """katka from a server.properties; the first listener answers the readiness probe."""
    path = directory / f"{name}.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    port = int(properties["listeners"].split(",")[0].rsplit(":", 1)[1])
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log = open(directory / f"{name}.err", "wb")  # noqa: SIM115 - closed with the process
    command = [sys.executable, "-m", "katka", "serve", "--config", str(path),
               "--log-level", "WARNING"]  # fmt: skip
    began = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_until_answers("kafka", port, process, 60)
    except BaseException:
        process.kill()
        raise
    spec = BrokerSpec(name, name, "kafka", ())
    return RunningBroker(spec, port, properties["log.dirs"], process, began, owns_data_dir=True)


def sasl_ssl_client(bootstrap: str, ca: Path) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(ca),
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": USER,
        "sasl.password": PASSWORD,
    }


def add_scram_user(bootstrap: str, queue: Any) -> None:
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})
    upsert = UserScramCredentialUpsertion(
        USER, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), PASSWORD.encode()
    )
    admin.alter_user_scram_credentials([upsert])[USER].result(30)
    queue.put({"ok": True})


def add_acls(bootstrap: str, topic: str, count: int, queue: Any) -> None:
    """`count` ACLs: one lets User:ANONYMOUS write, read and create `topic`; the rest name
    other topics, prefixes and groups for other users, as a broker with many tenants has."""
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})
    allow = AclPermissionType.ALLOW
    literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    bindings = [
        AclBinding(ResourceType.TOPIC, topic, literal, "User:ANONYMOUS", "*",
                   AclOperation.ALL, allow),
    ]  # fmt: skip
    for i in range(count - 2):
        kind = i % 3
        resource = ResourceType.GROUP if kind == 2 else ResourceType.TOPIC
        pattern = prefixed if kind == 1 else literal
        operation = (AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE)[i % 3]
        bindings.append(
            AclBinding(resource, f"tenant-{i}-", pattern, f"User:tenant-{i % 50}", "*",
                       operation, allow)
        )  # fmt: skip
    # Last: once the cluster has an ACL, ANONYMOUS may no longer alter ACLs (allow.everyone.
    # if.no.acl.found let it until then).
    bindings.append(
        AclBinding(ResourceType.BROKER, "kafka-cluster", literal, "User:ANONYMOUS", "*",
                   AclOperation.CREATE, allow)
    )  # fmt: skip
    for start in range(0, len(bindings), 200):
        for future in admin.create_acls(bindings[start : start + 200]).values():
            future.result(60)
    queue.put({"ok": True, "acls": len(bindings)})


def _produce(bootstrap: str, extra: dict[str, Any], topic: str, size: int, count: int,
             linger_ms: int, max_seconds: float) -> dict[str, Any]:  # fmt: skip
    result = procs.run(
        kafka_workers.produce, bootstrap, topic, count, size, linger_ms, max_seconds,
        extra=extra, timeout=max_seconds + 180,
    )  # fmt: skip
    return result


def tls(settings: Settings) -> list[dict[str, Any]]:
    """Produce and consume through the PLAINTEXT and SASL_SSL listeners of one katka."""
    if shutil.which("openssl") is None:
        return [{"workload": "security-tls", "error": "no openssl command"}]
    directory = Path(tempfile.mkdtemp(prefix="bench-security-"))
    store, ca = make_key_store(directory)
    plain_port, secure_port = free_port(), free_port()
    broker = start_katka(
        "katka-sasl-ssl",
        {
            "listeners": f"PLAINTEXT://127.0.0.1:{plain_port},SASL_SSL://127.0.0.1:{secure_port}",
            "log.dirs": str(directory / "data"),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(store),
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        },
        directory,
    )
    plain = f"127.0.0.1:{plain_port}"
    listeners = {
        "PLAINTEXT": (plain, {}),
        "SASL_SSL": (f"127.0.0.1:{secure_port}", sasl_ssl_client(f"127.0.0.1:{secure_port}", ca)),
    }
    rows: dict[tuple[str, str, int], list[float]] = {}
    try:
        procs.run(add_scram_user, plain, timeout=60)
        for _round in range(max(1, settings.repeats // 2 + 1)):
            for size, count in settings.produce_records.items():
                for name, (bootstrap, extra) in listeners.items():
                    topic = f"bench-tls-{uuid.uuid4().hex[:8]}"
                    procs.run(kafka_workers.create_topic, plain, topic, settings.partitions,
                              timeout=60)  # fmt: skip
                    produced = _produce(bootstrap, extra, topic, size, count, settings.linger_ms,
                                        settings.produce_max_seconds)  # fmt: skip
                    rate = produced["records"] / produced["seconds"]
                    rows.setdefault(("produce", name, size), []).append(rate)
                    consumed = procs.run(
                        kafka_workers.consume, bootstrap, topic, settings.partitions,
                        produced["records"], None, 10.0, extra=extra, timeout=240,
                    )  # fmt: skip
                    steady = consumed["steady_seconds"]
                    rate = consumed["steady_records"] / steady if steady > 0 else 0.0
                    rows.setdefault(("consume", name, size), []).append(rate)
    finally:
        broker.stop()
        shutil.rmtree(directory, ignore_errors=True)
    results: list[dict[str, Any]] = []
    for (workload, name, size), samples in sorted(rows.items()):
        if name != "SASL_SSL":
            continue
        secure = sorted(samples)[len(samples) // 2]
        plain_samples = rows[(workload, "PLAINTEXT", size)]
        plaintext = sorted(plain_samples)[len(plain_samples) // 2]
        results.append(
            {
                "workload": f"security-{workload}",
                "variant": f"SASL_SSL SCRAM-SHA-512 vs PLAINTEXT, {size} B",
                "records_per_s": round(secure),
                "plaintext_records_per_s": round(plaintext),
                "ratio": round(secure / plaintext, 3) if plaintext else None,
                "target": ">= 0.6",
                "samples_records_per_s": [round(s) for s in samples],
                "samples_plaintext_records_per_s": [round(s) for s in plain_samples],
            }
        )
    return results


def acl(settings: Settings) -> list[dict[str, Any]]:
    """Broker CPU per produced record with small requests, without and with 1,000 ACLs."""
    count = min(settings.produce_records.get(100, 200_000), 200_000)
    cpu_per_record: dict[str, list[float]] = {"off": [], "on": []}
    for _round in range(max(1, settings.repeats // 2 + 1)):
        for mode in ("off", "on"):
            directory = Path(tempfile.mkdtemp(prefix="bench-acl-"))
            port = free_port()
            properties = {
                "listeners": f"PLAINTEXT://127.0.0.1:{port}",
                "log.dirs": str(directory / "data"),
            }
            topic = "bench-acl"
            if mode == "on":
                properties.update({"authorizer.class.name": AUTHORIZER,
                                   "allow.everyone.if.no.acl.found": "true"})  # fmt: skip
            broker = start_katka(f"katka-acl-{mode}", properties, directory)
            try:
                bootstrap = f"127.0.0.1:{port}"
                if mode == "on":
                    procs.run(add_acls, bootstrap, topic, ACL_COUNT, timeout=120)
                procs.run(kafka_workers.create_topic, bootstrap, topic, settings.partitions,
                          timeout=60)  # fmt: skip
                before = broker.cpu_seconds()
                produced = _produce(bootstrap, {"batch.num.messages": 10}, topic, 100, count, 0,
                                    settings.produce_max_seconds)  # fmt: skip
                used = broker.cpu_seconds() - before
                if produced["records"]:
                    cpu_per_record[mode].append(used / produced["records"])
            finally:
                broker.stop()
                shutil.rmtree(directory, ignore_errors=True)
    off = sorted(cpu_per_record["off"])[len(cpu_per_record["off"]) // 2]
    on = sorted(cpu_per_record["on"])[len(cpu_per_record["on"]) // 2]
    return [
        {
            "workload": "security-acl",
            "variant": f"{ACL_COUNT} ACLs, StandardAuthorizer vs none, 100 B, 10 records a request",
            "cpu_us_per_record": round(on * 1e6, 2),
            "cpu_us_per_record_without": round(off * 1e6, 2),
            "ratio": round(on / off, 3) if off else None,
            "target": "< 1.05",
            "samples_cpu_us_per_record": [round(s * 1e6, 2) for s in cpu_per_record["on"]],
            "samples_cpu_us_per_record_without": [round(s * 1e6, 2) for s in cpu_per_record["off"]],
        }
    ]
