"""Quix Streams (PyPI `quixstreams`) applications run as subprocesses in a virtual environment
of their own.

Quix Streams pins its own confluent-kafka (2.12 for 3.28), older than the one katka's tests
need, so it never goes into the test extra: the venv is built in a cache directory outside the
repository (reused between runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cache_lock import cache_lock

QUIX_VERSION = "3.28"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "katka-quixstreams"

# The app's header: the arguments quix_app passes, an exactly-once Application over them.
_HEADER = """
import sys
import time
from quixstreams import Application

bootstrap, group, source, sink, state_dir = sys.argv[1:6]
app = Application(
    broker_address=bootstrap,
    consumer_group=group,
    processing_guarantee="exactly-once",
    auto_offset_reset="earliest",
    state_dir=state_dir,
    commit_interval=%s,
    loglevel="WARNING",
)
sdf = app.dataframe(app.topic(source, value_deserializer="json"))
"""


def exactly_once_app(commit_interval: float, processing: str) -> str:
    """The source of an app that reads `source`, applies `processing` (code that rebinds
    `sdf`, with `time` imported) and writes JSON to `sink`, exactly once."""
    return (
        _HEADER % commit_interval
        + processing
        + '\nsdf.to_topic(app.topic(sink, value_serializer="json"))\napp.run()\n'
    )


# app source, bootstrap, group, source topic, sink topic, state directory -> the running app
StartApp = Callable[[str, str, str, str, str, Path], "subprocess.Popen[str]"]


@pytest.fixture(scope="module")
def quix_python() -> Path:
    """The cached virtual environment's interpreter, with quixstreams installed."""
    with cache_lock("quixstreams"):
        return _installed_quix_python()


def _installed_quix_python() -> Path:
    venv = CACHE / f"venv-{QUIX_VERSION}"
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import quixstreams"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"quixstreams=={QUIX_VERSION}.*"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if installed.returncode != 0:
        pytest.skip(f"cannot install quixstreams {QUIX_VERSION} from PyPI:\n{installed.stderr}")
    return python


@pytest.fixture
def quix_app(quix_python: Path, tmp_path: Path) -> Iterator[StartApp]:
    """Start Quix Streams apps (their source and command-line arguments); all are killed at
    the end of the test."""
    started: list[subprocess.Popen[str]] = []

    def start(
        app: str, bootstrap: str, group: str, source: str, sink: str, state: Path
    ) -> subprocess.Popen[str]:
        script = tmp_path / f"app-{len(started)}.py"
        script.write_text(app)
        process = subprocess.Popen(
            [str(quix_python), str(script), bootstrap, group, source, sink, str(state)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait(30)
