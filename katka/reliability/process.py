"""A `katka serve` subprocess: start, wait for the ready line, stop, SIGKILL, RSS.

The one broker-subprocess helper: the reliability harnesses and the end-to-end and CLI tests
all use it."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as file:
            low, high = (int(field) for field in file.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A free loopback port below the ephemeral range.

    A broker restarted on a port from the ephemeral range can find it taken: while it is down,
    a client reconnecting to 127.0.0.1:P may be given P as its own source port and connect to
    itself (TCP simultaneous open), which holds the port. Real brokers listen on 9092.
    """
    low, _high = _ephemeral_range()
    candidates = list(range(max(low - 12000, 10000), low))
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux /proc), 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class BrokerProcess:
    """One broker on a fixed loopback port and data directory, restartable after a kill."""

    def __init__(
        self,
        data_dir: Path,
        overrides: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        port: int | None = None,
        env: dict[str, str] | None = None,
        place: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.place = place  # False: the address and data directory come from --config
        self.overrides = list(overrides)
        self.extra_args = list(extra_args)
        self.port = port or free_port()
        self.env = env or {}
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.ready_line = ""
        self.recovery_seconds = 0.0  # process start to ready line, of the last start

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60) -> float:
        """Start and wait for the ready line; returns the seconds it took."""
        # The real `katka serve`, through katka's CLI, so errors read as users see them.
        command = [sys.executable, "-m", "katka", "serve"]
        if self.place:
            command += ["--listen", self.bootstrap, "--data-dir", str(self.data_dir)]
        command += self.extra_args
        for override in self.overrides:
            command += ["-o", override]
        self.output = []
        self.ready_line = ""
        started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
        )
        ready = threading.Event()
        process = self.process

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                self.output.append(line.rstrip("\n"))
                if len(self.output) > 5000:
                    del self.output[:1000]
                if line.startswith("katka ready"):
                    self.ready_line = line.strip()
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout):
            self.kill()
            raise RuntimeError("katka did not start in time:\n" + self.log_tail())
        if not self.ready_line:
            raise RuntimeError("katka exited before ready:\n" + self.log_tail())
        self.recovery_seconds = time.monotonic() - started
        return self.recovery_seconds

    def start_refused(self, timeout: float = 60) -> int:
        """Start expecting the broker to exit before it is ready; its exit code (the output
        is in `output`). AssertionError if it starts."""
        try:
            self.start(timeout)
        except RuntimeError:
            assert self.process is not None
            return self.process.wait(30)
        self.kill()
        raise AssertionError("katka started:\n" + self.log_text())

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no flush, no clean-shutdown marker."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)

    def stop(self, timeout: float = 30, sig: int = signal.SIGTERM) -> int:
        """Send `sig` (SIGTERM: a clean shutdown) and return the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def rss(self) -> int:
        return rss_bytes(self.pid) if self.alive() else 0

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.output[-lines:])

    def log_text(self) -> str:
        return "\n".join(self.output)
