"""A real `katka serve` subprocess on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class KatkaProcess:
    def __init__(
        self, data_dir: Path, extra_args: list[str] | None = None, port: int | None = None
    ) -> None:
        self.data_dir = data_dir
        self.extra_args = extra_args or []
        self.port = port or free_port()
        self.process: subprocess.Popen[str] | None = None
        self.ready_line = ""
        self.output: list[str] = []

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> KatkaProcess:
        command = [
            sys.executable,
            "-m",
            "katka.cli.serve",
            "--listen",
            self.bootstrap,
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        self.output = []
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line.rstrip("\n"))
                if line.startswith("katka ready"):
                    self.ready_line = line.strip()
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("katka did not start:\n" + "\n".join(self.output))
        if not self.ready_line:
            raise RuntimeError("katka exited before ready:\n" + "\n".join(self.output))
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no flush, no clean-shutdown marker."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def log_text(self) -> str:
        return "\n".join(self.output)


def refused_start(data_dir: Path, extra_args: list[str]) -> tuple[int, list[str]]:
    """Run `katka serve` expecting it to exit before it is ready: its exit code and output."""
    process = KatkaProcess(data_dir, extra_args)
    try:
        process.start()
    except RuntimeError:
        assert process.process is not None
        return process.process.wait(30), process.output
    process.kill()
    raise AssertionError("katka started:\n" + process.log_text())
