"""Protocol fuzzer: mutated requests of every API katka implements, over real sockets.

Valid requests come from hypothesis (`st.from_type` on kio's request schemas, encoded with
kio's writer, or on katka's own entities for the old versions kio lacks (old_versions.py),
Produce carrying real v2 batches); each case applies one or more mutations (bit flips,
truncation, huge or negative length prefixes, huge or negative counts and sizes inside the body,
wrong versions, unknown api keys, random bytes, byte insertion and deletion, several frames glued
together, a frame trickled a few bytes at a time) and is sent on a fresh
connection to a `katka serve` subprocess.

Invariants, checked while the cases run:
- the broker process never exits (crashes) and keeps answering a probe (hangs);
- every bad connection gets an answer or is closed; one that is neither after a few seconds is
  counted as parked (a valid long poll can park; the broker must still answer everyone else);
- a well-behaved confluent-kafka producer and consumer keep working in parallel (canary);
- the broker's RSS stays bounded (max RSS is reported; the run fails above a limit).

A case that crashes the broker is saved under --save-dir for replay, and the broker restarted.
With --security the broker also has SASL_PLAINTEXT and SSL listeners, and a share of the cases
are SASL exchanges and TLS garbage (fuzz_security.py), under the same invariants.

    python -m katka.reliability.fuzz --seconds 1200 [--security]
"""

from __future__ import annotations

import argparse
import datetime
import io
import logging
import random
import shutil
import socket
import struct
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from katka.reliability import fuzz_security
from katka.reliability.fuzz_cases import Case, frame, mutate, request_header
from katka.reliability.process import BrokerProcess, free_port
from katka.reliability.tally import Tally

log = logging.getLogger("katka.reliability.fuzz")

CANARY_TOPIC = "fuzz-canary"
RESPONSE_TIMEOUT = 3.0
PROBE_TIMEOUT = 10.0
RSS_LIMIT = 1024 * 1024 * 1024


@dataclass
class Summary(Tally):
    LOG = log

    cases: int = 0
    answered: int = 0
    closed: int = 0
    parked: int = 0
    crashes: int = 0
    hangs: int = 0
    canary_failures: int = 0
    canary_records: int = 0
    max_rss: int = 0
    rss_limit: int = RSS_LIMIT
    by_mutation: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(
            self.crashes or self.hangs or self.canary_failures or self.max_rss > self.rss_limit
        )

    def line(self) -> str:
        return (
            f"fuzz: cases={self.cases} answered={self.answered} closed={self.closed} "
            f"parked={self.parked} crashes={self.crashes} hangs={self.hangs} "
            f"canary_failures={self.canary_failures} canary_records={self.canary_records} "
            f"max_rss_mb={self.max_rss / 2**20:.1f}"
        )


# --- valid requests ---------------------------------------------------------------------------


def _valid_batch() -> Any:
    from hypothesis import strategies as st

    from katka.protocol.records import build_batch

    record = st.tuples(
        st.none() | st.binary(max_size=20), st.binary(max_size=60), st.just(()), st.just(1000)
    )
    return st.builds(
        lambda records, compression, producer: build_batch(
            records,
            compression=compression,
            producer_id=producer,
            producer_epoch=0,
            base_sequence=0 if producer >= 0 else -1,
        ),
        st.lists(record, min_size=1, max_size=5),
        st.sampled_from([0, 1, 2, 3, 4]),
        st.sampled_from([-1, 1000, 1001]),
    )


def request_pool(per_version: int, seed: int) -> list[tuple[int, int, bytes]]:
    """(api_key, api_version, body) of valid requests for every API and version katka serves."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.errors import NonInteractiveExampleWarning
    from kio.index import load_request_schema
    from kio.serial import entity_writer
    from kio.static.primitive import Records

    from katka import api
    from katka.protocol import old_versions

    warnings.simplefilter("ignore", NonInteractiveExampleWarning)
    st.register_type_strategy(
        Records, (st.binary(max_size=200) | _valid_batch()).map(lambda b: Records(bytes(b)))
    )
    st.register_type_strategy(uuid.UUID, st.uuids())
    # Durations of katka's old-version entities are plain timedeltas (kio's are i32Timedelta):
    # keep them within int32 milliseconds, which every old duration field holds.
    st.register_type_strategy(
        datetime.timedelta,
        st.timedeltas(datetime.timedelta(0), datetime.timedelta(milliseconds=2**31 - 1)),
    )
    pool: list[tuple[int, int, bytes]] = []
    for module in api.ALL:
        for version in module.VERSIONS:
            found: list[bytes] = []
            if (module.API_KEY, version) in old_versions.OLD_VERSIONS:
                # Versions kio lacks (Kafka 4.0 dropped them): katka's own entities and codec.
                schema = old_versions.request_class(module.API_KEY, version)
                writer = _old_version_writer(module.API_KEY, version)
            else:
                schema = load_request_schema(module.API_KEY, version)
                writer = entity_writer(schema)

            @settings(
                max_examples=per_version,
                deadline=None,
                database=None,
                derandomize=False,
                suppress_health_check=list(HealthCheck),
            )
            @given(request=st.from_type(schema))
            def collect(request: Any) -> None:
                buffer = io.BytesIO()
                writer(buffer, request)  # noqa: B023 - called at once below
                found.append(buffer.getvalue())  # noqa: B023

            collect()
            pool.extend((module.API_KEY, version, body) for body in found)
    random.Random(seed).shuffle(pool)
    return pool


def _old_version_writer(api_key: int, version: int) -> Callable[[io.BytesIO, Any], None]:
    from hypothesis import reject

    from katka.protocol.old_versions import encode_body

    def write(buffer: io.BytesIO, request: Any) -> None:
        try:
            buffer.write(encode_body(api_key, version, request, response=False))
        except (struct.error, OverflowError, ValueError):
            reject()  # a value the wire type cannot hold (a duration past int32 milliseconds)

    return write


# --- sending ----------------------------------------------------------------------------------


def send_case(port: int, case: Case, timeout: float = RESPONSE_TIMEOUT) -> str:
    """'answered', 'closed' or 'parked' (neither within the timeout)."""
    try:
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return "refused"
    try:
        connection.settimeout(timeout)
        try:
            for index, chunk in enumerate(case.chunks):
                connection.sendall(chunk)
                if len(case.chunks) > 1 and index % 20 == 0:
                    time.sleep(0.001)
        except OSError:
            return "closed"
        try:
            data = connection.recv(65536)
        except TimeoutError:
            return "parked"
        except OSError:
            return "closed"
        return "answered" if data else "closed"
    finally:
        connection.close()


def probe(port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """An ApiVersions v0 round trip on a fresh connection."""
    request = frame(request_header(18, 0, 424242, False))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            connection.settimeout(timeout)
            connection.sendall(request)
            data = b""
            while len(data) < 8:
                chunk = connection.recv(65536)
                if not chunk:
                    return False
                data += chunk
            correlation_id: int = struct.unpack_from(">i", data, 4)[0]
            return correlation_id == 424242
    except OSError:
        return False


class Canary(threading.Thread):
    """A well-behaved producer and consumer; any stall longer than `patience` is a failure."""

    def __init__(self, bootstrap: str, summary: Summary, patience: float = 20.0) -> None:
        super().__init__(name="canary", daemon=True)
        self.bootstrap = bootstrap
        self.summary = summary
        self.patience = patience
        self.stopping = threading.Event()
        self.acked = 0
        self.consumed = 0
        self.failures = 0

    def run(self) -> None:
        producer = Producer(
            {"bootstrap.servers": self.bootstrap, "acks": "all", "log_level": 0, "linger.ms": 1}
        )
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "fuzz-canary",
                "auto.offset.reset": "earliest",
                "log_level": 0,
            }
        )
        consumer.assign([TopicPartition(CANARY_TOPIC, 0, 0)])
        last_progress = time.monotonic()
        sent = 0

        def on_delivery(error: Any, _message: Any) -> None:
            if error is None:
                self.acked += 1

        while not self.stopping.is_set():
            producer.produce(CANARY_TOPIC, value=b"canary-%d" % sent, on_delivery=on_delivery)
            sent += 1
            producer.poll(0)
            before = self.consumed
            messages: list[Any] = consumer.consume(100, 0.05)
            for message in messages:
                if message.error() is None:
                    self.consumed += 1
            if self.consumed > before:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > self.patience:
                self.failures += 1
                self.summary.problem(f"canary made no progress for {self.patience:.0f} s")
                last_progress = time.monotonic()
            time.sleep(0.02)
        producer.flush(10)
        consumer.close()
        self.summary.canary_records = self.consumed


class Fuzzer:
    def __init__(
        self,
        data_dir: Path,
        seed: int,
        workers: int = 3,
        save_dir: Path | None = None,
        per_version: int = 12,
        security: bool = False,
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.summary = Summary()
        self.save_dir = save_dir
        overrides = ["group.initial.rebalance.delay.ms=0", "auto.create.topics.enable=true"]
        self.secured: dict[str, int] = {}  # listener name -> port (SASL_PLAINTEXT, SSL)
        extra_args = ["--log-level", "WARNING"]
        port = None
        key_store = fuzz_security.make_key_store(data_dir / "tls") if security else None
        if key_store is not None:
            port = free_port()
            self.secured = {"SASL_PLAINTEXT": free_port(), "SSL": free_port()}
            properties = fuzz_security.listener_properties(
                {"PLAINTEXT": port, **self.secured}, data_dir / "data", key_store
            )
            path = data_dir / "server.properties"
            path.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
            extra_args += ["--config", str(path)]
        self.broker = BrokerProcess(
            data_dir,
            overrides=overrides,
            extra_args=extra_args,
            port=port,
            place=key_store is None,
        )
        self.client_hello = fuzz_security.client_hello() if key_store is not None else b""
        self.workers = workers
        self.pool = request_pool(per_version, seed)
        self.lock = threading.Lock()
        self.broker_lock = threading.Lock()
        self.stop = threading.Event()
        self.correlation = 0

    def next_case(self) -> tuple[int, Case]:
        """A case and the port it goes to."""
        with self.lock:
            api_key, version, body = self.rng.choice(self.pool)
            self.correlation += 1
            rng = random.Random(self.rng.getrandbits(64))
            correlation = self.correlation
        if self.secured and rng.random() < 0.4:
            if rng.random() < 0.5:
                return self.secured["SSL"], fuzz_security.tls_case(rng, self.client_hello)
            return self.secured["SASL_PLAINTEXT"], fuzz_security.sasl_case(rng, correlation)
        return self.broker.port, mutate(rng, api_key, version, body, correlation)

    def record(self, case: Case, outcome: str) -> None:
        with self.lock:
            self.summary.cases += 1
            self.summary.by_mutation[case.mutation] = (
                self.summary.by_mutation.get(case.mutation, 0) + 1
            )
            if outcome == "answered":
                self.summary.answered += 1
            elif outcome == "closed":
                self.summary.closed += 1
            elif outcome == "parked":
                self.summary.parked += 1

    def on_crash(self, case: Case | None) -> None:
        with self.broker_lock:
            if self.broker.alive():
                return
            self.summary.crashes += 1
            self.summary.problem(
                f"broker exited (code {self.broker.process and self.broker.process.returncode}) "
                f"after a {case.mutation if case else '?'} case:\n{self.broker.log_tail(20)}"
            )
            if case is not None and self.save_dir is not None:
                self.save_dir.mkdir(parents=True, exist_ok=True)
                path = self.save_dir / f"crash-{self.summary.crashes}-{case.mutation}.bin"
                path.write_bytes(b"".join(case.chunks))
            self.broker.start()

    def worker(self) -> None:
        while not self.stop.is_set():
            port, case = self.next_case()
            outcome = send_case(port, case)
            self.record(case, outcome)
            if not self.broker.alive():
                self.on_crash(case)

    def watchdog(self) -> None:
        while not self.stop.is_set():
            self.stop.wait(1.0)
            if not self.broker.alive():
                self.on_crash(None)
                continue
            self.summary.max_rss = max(self.summary.max_rss, self.broker.rss())
            if not self._answers_everywhere():
                if not self.broker.alive():
                    self.on_crash(None)
                    continue
                self.summary.hangs += 1
                self.summary.problem(
                    f"broker did not answer ApiVersions on every listener in "
                    f"{PROBE_TIMEOUT:.0f} s:\n" + self.broker.log_tail(20)
                )

    def _answers_everywhere(self) -> bool:
        """ApiVersions answered on the plaintext listener and, with security, on the SASL
        listener (allowed before authentication) and over TLS."""
        if not probe(self.broker.port):
            return False
        if not self.secured:
            return True
        return probe(self.secured["SASL_PLAINTEXT"]) and fuzz_security.tls_probe(
            self.secured["SSL"], PROBE_TIMEOUT
        )

    def run(self, seconds: float) -> Summary:
        self.broker.start()
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        admin.create_topics([NewTopic(CANARY_TOPIC, 1, 1)])[CANARY_TOPIC].result(30)
        canary = Canary(self.broker.bootstrap, self.summary)
        canary.start()
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.workers)]
        threads.append(threading.Thread(target=self.watchdog, daemon=True))
        for thread in threads:
            thread.start()
        try:
            self.stop.wait(seconds)
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(30)
            canary.stopping.set()
            canary.join(30)
            self.summary.canary_failures = canary.failures
            if canary.consumed == 0:
                self.summary.canary_failures += 1
                self.summary.problem("the canary consumed nothing")
            self.summary.max_rss = max(self.summary.max_rss, self.broker.rss())
            self.broker.kill()
        return self.summary


def run(
    seconds: float,
    seed: int | None = None,
    data_dir: Path | None = None,
    save_dir: Path | None = None,
    on_start: Callable[[Fuzzer], None] | None = None,
    **options: Any,
) -> Summary:
    temporary = None
    if data_dir is None:
        temporary = tempfile.mkdtemp(prefix="katka-fuzz-")
        data_dir = Path(temporary)
    try:
        fuzzer = Fuzzer(
            data_dir,
            seed if seed is not None else random.randrange(2**32),
            save_dir=save_dir,
            **options,
        )
        if on_start is not None:
            on_start(fuzzer)
        return fuzzer.run(seconds)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--save-dir", type=Path, default=Path("fuzz-crashes"))
    parser.add_argument(
        "--security", action="store_true", help="also fuzz SASL exchanges and TLS listeners"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"fuzz: seed={seed}", flush=True)
    summary = run(
        args.seconds,
        seed=seed,
        save_dir=args.save_dir,
        workers=args.workers,
        security=args.security,
    )
    for problem in summary.problems:
        print("problem:", problem)
    print(
        "fuzz: by mutation " + " ".join(f"{k}={v}" for k, v in sorted(summary.by_mutation.items())),
        flush=True,
    )
    print(summary.line(), flush=True)
    raise SystemExit(1 if summary.failed else 0)


if __name__ == "__main__":
    main()
