"""The dependency rules of DESIGN.md, checked on the source: the sans-IO core stays sans-IO."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "katka"
STDLIB = set(sys.stdlib_module_names)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules_under(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules_under("protocol"), ids=lambda p: p.name)
def test_protocol_uses_only_kio_codecs_and_the_standard_library(path: Path) -> None:
    allowed_third_party = {"kio", "crc32c", "cramjam"}
    for name in imports_of(path):
        root = name.split(".")[0]
        if root == "katka":
            assert name.startswith("katka.protocol") or name == "katka.errors", name
        else:
            assert root in STDLIB or root in allowed_third_party, name


@pytest.mark.parametrize(
    "path",
    modules_under("storage") + modules_under("metadata") + modules_under("coordinator"),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_the_domain_never_imports_the_server_or_the_handlers(path: Path) -> None:
    for name in imports_of(path):
        assert not name.startswith(
            ("katka.server", "katka.api", "katka.broker", "asyncio.streams")
        ), name


@pytest.mark.parametrize("path", modules_under("api"), ids=lambda p: p.name)
def test_handlers_never_import_the_server(path: Path) -> None:
    for name in imports_of(path):
        assert not name.startswith("katka.server"), name


# storage/durability.py is the one place storage waits (the group-commit fsync round, DESIGN.md
# rule 1); the logs it flushes stay sans-IO.
WAITS_FOR_FSYNC = PACKAGE / "storage" / "durability.py"


@pytest.mark.parametrize(
    "path",
    [
        path
        for path in modules_under("protocol") + modules_under("storage")
        if path != WAITS_FOR_FSYNC
    ],
    ids=lambda p: p.name,
)
def test_the_sans_io_core_has_no_asyncio(path: Path) -> None:
    assert "asyncio" not in {name.split(".")[0] for name in imports_of(path)}
