"""The dependency rules of DESIGN.md, checked on the source: the sans-IO core stays sans-IO."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "katka"
STDLIB = set(sys.stdlib_module_names)
# Accepting connections: only the Kafka listener in server/ does it, and the admin HTTP API,
# which serves a different protocol on its own port (a declared exception).
SOCKET_ACCEPTORS = {"start_server", "create_server", "start_unix_server", "accept", "listen"}
ALLOWED_ACCEPTORS = {PACKAGE / "admin" / "server.py"}


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
    [
        path
        for folder in ("storage", "metadata", "coordinator", "transactions", "quotas", "security")
        for path in modules_under(folder)
    ],
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


@pytest.mark.parametrize(
    "path", modules_under("api") + modules_under("admin"), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_handlers_and_admin_views_see_the_node_never_the_broker(path: Path) -> None:
    assert "katka.broker" not in imports_of(path)


# storage/durability.py and storage/cleaner/service.py are the places storage waits (the
# group-commit fsync round, the cleaner's thread; DESIGN.md rule 1); the logs stay sans-IO.
WAITS_FOR_FSYNC = PACKAGE / "storage" / "durability.py"
WAITS_FOR_CLEANER = PACKAGE / "storage" / "cleaner" / "service.py"


@pytest.mark.parametrize(
    "path",
    [
        path
        for path in modules_under("protocol") + modules_under("storage")
        if path not in (WAITS_FOR_FSYNC, WAITS_FOR_CLEANER)
    ],
    ids=lambda p: p.name,
)
def test_the_sans_io_core_has_no_asyncio(path: Path) -> None:
    assert "asyncio" not in {name.split(".")[0] for name in imports_of(path)}


@pytest.mark.parametrize(
    "path", modules_under("coordinator"), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_the_group_coordinator_never_sees_a_wire_version(path: Path) -> None:
    # Handlers turn versions into capabilities (require_known_member_id, member_epoch_capable).
    tree = ast.parse(path.read_text())
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    assert "api_version" not in names


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def katka_imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every katka module this file imports, TYPE_CHECKING and function-local imports
    included: `from a import b` counts a.b when b is a module, else a."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                if f"{source}.{alias.name}" in modules:
                    found.add(f"{source}.{alias.name}")
                elif source in modules:
                    found.add(source)
    found.discard(name)
    return found


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycle_in_katka_type_only_imports_included() -> None:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: katka_imports_of(path, set(paths)) for name, path in paths.items()}
    assert import_cycles(graph) == []


def test_the_cycle_check_finds_a_cycle_through_a_type_only_import() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]


def accepts_connections(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name in SOCKET_ACCEPTORS:
                return True
    return False


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(PACKAGE.rglob("*.py")) if not p.is_relative_to(PACKAGE / "server")],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_only_the_server_accepts_connections(path: Path) -> None:
    if path in ALLOWED_ACCEPTORS:
        assert accepts_connections(path), f"{path} no longer listens: drop its exception"
    else:
        assert not accepts_connections(path), f"{path} accepts connections outside server/"


def test_the_kafka_listener_lives_in_server() -> None:
    assert accepts_connections(PACKAGE / "server" / "listener.py")


MAX_MODULE_LINES = 600


def test_every_module_is_under_600_lines() -> None:
    """Split by noun before a file grows past ~600 lines (DESIGN.md rule 9)."""
    too_long = {
        str(path.relative_to(PACKAGE)): count
        for path in PACKAGE.rglob("*.py")
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}
