"""Debian's sarama (1.22.1, Go) produces with every codec and reads everything back.

sarama before 1.45.1 leaves each batch header's max_timestamp at -1; Kafka's broker sets it
from the records, and so must katka (issue 10 part 1), or retention deletes the data. The Go
program (tests/e2e/sarama/main.go) is built offline in GOPATH mode with Debian's Go into a
cache directory outside the repository; `.ci/run` installs both Debian packages.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from katka.protocol.records import decode_records, iter_batches
from katka.reliability.process import BrokerProcess
from tests.e2e.test_batch_timestamps import EARLIEST, RawClient, retention_checks, wait_for
from tests.e2e.test_produce_consume import create_topic, unique

SOURCE = Path(__file__).parent / "sarama" / "main.go"
DEBIAN_GO = Path("/usr/lib/go/bin/go")
DEBIAN_GOPATH = Path("/usr/share/gocode")
SARAMA = DEBIAN_GOPATH / "src/github.com/Shopify/sarama"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "katka-sarama"
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
PER_CODEC = 4


@pytest.fixture(scope="module")
def sarama_client() -> Path:
    """The built client, rebuilt when its source changes."""
    if not DEBIAN_GO.exists() or not SARAMA.is_dir():
        pytest.skip(
            "Debian's Go or sarama is missing: apt-get install golang-go "
            "golang-github-shopify-sarama-dev (.ci/run installs them)"
        )
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    binary = CACHE / f"katka-sarama-{digest}"
    if binary.exists():
        return binary
    package = CACHE / "gopath" / "src" / "katkasarama"
    package.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOURCE, package / "main.go")
    environment = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": f"{CACHE / 'gopath'}:{DEBIAN_GOPATH}",
        "GOCACHE": str(CACHE / "build-cache"),
        "GOFLAGS": "",
    }
    built = subprocess.run(
        [str(DEBIAN_GO), "build", "-o", str(binary), "."],
        cwd=package,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, f"building the sarama client failed:\n{built.stderr}"
    return binary


def test_sarama_produces_with_every_codec_and_reads_it_all_back(
    sarama_client: Path, start_katka: Callable[..., BrokerProcess]
) -> None:
    server = start_katka(["-o", "log.retention.check.interval.ms=1000", "--log-level", "DEBUG"])
    topic = unique("sarama")
    # A segment per batch, so retention looks at closed segments holding sarama's batches.
    create_topic(server.bootstrap, topic, 1, {"segment.bytes": "200"})
    started_ms = int(time.time() * 1000)

    run = subprocess.run(
        [str(sarama_client), "-broker", server.bootstrap, "-topic", topic, "-count", "4"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr

    records = [json.loads(line) for line in run.stdout.splitlines()]
    expected = [f"{codec}-{i}" for codec in CODECS for i in range(PER_CODEC)]
    assert [r["value"] for r in records] == expected
    assert [r["offset"] for r in records] == list(range(len(expected)))
    assert all(started_ms - 1000 <= r["timestamp_ms"] <= time.time() * 1000 for r in records)

    # What katka stored: each batch's max timestamp is its newest record's, CRCs valid.
    log_dir = server.data_dir / f"{topic}-0"
    stored = b"".join(path.read_bytes() for path in sorted(log_dir.glob("*.log")))
    batches = iter_batches(stored)
    codecs = [header.compression for header, _ in batches]  # sarama may split a codec's sends
    assert [codec for codec, _ in itertools.groupby(codecs)] == [0, 1, 2, 3, 4]
    for header, batch in batches:
        assert header.max_timestamp == max(r.timestamp_ms for r in decode_records(batch))

    seen = retention_checks(server)
    wait_for(lambda: retention_checks(server) >= seen + 2, 30, "two retention checks")
    client = RawClient(server)
    try:
        assert client.list_offset(topic, EARLIEST) == 0
        newest = max(r["timestamp_ms"] for r in records)
        first_at_newest = next(r["offset"] for r in records if r["timestamp_ms"] == newest)
        assert client.list_offset(topic, newest) == first_at_newest
    finally:
        client.close()
