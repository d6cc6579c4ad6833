"""Fixtures and hooks shared by every test directory."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE_HOME = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))

# Where PYTHONDONTWRITEBYTECODE is set, every Python process the suite starts (pytest and its
# xdist workers, each `katka serve`, CLI and client subprocess) would compile katka again, and
# pytest would rewrite every test's and katka's asserts again (~5 s of CPU a pytest process):
# the suite keeps its bytecode in a cache outside the repository instead. Set before anything
# below imports katka or a test module.
if sys.dont_write_bytecode and not os.environ.get("PYTHONPYCACHEPREFIX"):
    sys.pycache_prefix = str(CACHE_HOME / "katka-pycache")
    sys.dont_write_bytecode = False
    os.environ["PYTHONPYCACHEPREFIX"] = sys.pycache_prefix
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# The suite's temporary files (tmp_path, tempfile, every broker's data directory, also in the
# subprocesses) go to memory when /dev/shm is there and TMPDIR is not set: the storage tests
# and brokers fsync often, which on this machine's disk costs a third of their wall time, and
# no test can tell an fsync on disk from one in memory (a SIGKILL keeps the page cache either
# way; fsync faults are injected).
# A small /dev/shm (a container's 64 MiB) would fail the tests that write a lot: disk then.
SHM = Path("/dev/shm")
SHM_NEEDED_BYTES = 4 << 30


def _shm_usable() -> bool:
    if not (SHM.is_dir() and os.access(SHM, os.W_OK | os.X_OK)):
        return False
    stat = os.statvfs(SHM)
    return stat.f_bavail * stat.f_frsize >= SHM_NEEDED_BYTES


if "TMPDIR" not in os.environ and _shm_usable():
    os.environ["TMPDIR"] = str(SHM)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again

import pytest  # noqa: E402

from tests.kafka.reference import KafkaReference, kafka_broker_fixture  # noqa: E402

# Subprocesses that import kio while hypothesis is importable (pytester runs, client scripts)
# would otherwise rebuild hypothesis' Unicode tables (~2 s of CPU) in every fresh working
# directory: they share the repository's cache instead.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(REPO / ".hypothesis"))


def uses_a_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        definitions and definitions[-1].scope == "module"
        for definitions in (info.name2fixturedefs.get(name) for name in info.names_closure)
    )


def pytest_itemcollected(item: pytest.Item) -> None:
    """Under pytest-xdist (--dist loadgroup) the tests of one JVM or ZooKeeper judge share a
    worker, so that the session starts one Kafka (one Burrow) instead of one per worker; so do
    the tests of a module with a module-scoped fixture (a broker, certificates, a built log),
    which is otherwise built again on every worker that runs one of them. Marked as each item
    is collected: xdist reads the groups in its own pytest_collection_modifyitems."""
    for judge in ("kafka", "burrow"):
        if item.get_closest_marker(judge) is not None:
            item.add_marker(pytest.mark.xdist_group(judge))
    if item.get_closest_marker("xdist_group") is None and uses_a_module_fixture(item):
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """What xdist's loadgroup does, where it cannot: xdist 3.8 names a test's group by setting
    `item._nodeid` to "<nodeid>@<group>", which pytest 9.2 no longer reads (the id is `_id`),
    so every group was silently spread over the workers."""
    if not hasattr(config, "workerinput") or not config.getvalue("loadgroup"):
        return  # not an xdist worker of a loadgroup run
    for item in items:
        mark = item.get_closest_marker("xdist_group")
        node_id = getattr(item, "_id", None)
        if mark is None or node_id is None or "@" in item.nodeid.rpartition("]")[2]:
            continue
        item._id = type(node_id).parse(f"{item.nodeid}@{mark.args[0]}")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaReference]:
    """Apache Kafka 4.4, one KRaft node on loopback, shared by the session (tests/kafka)."""
    yield from kafka_broker_fixture(tmp_path_factory)
