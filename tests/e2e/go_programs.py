"""Go programs of the end-to-end tests, built offline in GOPATH mode with Debian's Go against
Go libraries Debian ships (sarama 1.22, kafka-go 0.2.1), into a cache directory outside the
repository (`.ci/run` installs the packages); and in module mode against the newest release of a
library on the Go module proxy (current sarama), cached in ~/.cache/katka-go."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cache_lock import cache_lock

DEBIAN_GO = Path("/usr/lib/go/bin/go")
DEBIAN_GOPATH = Path("/usr/share/gocode")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "katka-sarama"


def build_go_program(source: Path, library: str, debian_package: str) -> Path:
    """The built program of `source` (one main.go), rebuilt when it changes; skips the test
    when Debian's Go or the library (a path under GOPATH's src) is missing."""
    if not DEBIAN_GO.exists() or not (DEBIAN_GOPATH / "src" / library).is_dir():
        pytest.skip(
            f"Debian's Go or {library} is missing: apt-get install golang-go {debian_package} "
            "(.ci/run installs them)"
        )
    name = f"katka{source.parent.name}"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    binary = CACHE / f"{name}-{digest}"
    with cache_lock("go-build"):
        if not binary.exists():
            _build_gopath_program(source, name, binary)
    return binary


def _build_gopath_program(source: Path, name: str, binary: Path) -> None:
    package = CACHE / "gopath" / "src" / name
    package.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, package / "main.go")
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
        check=False,
    )
    assert built.returncode == 0, f"building {source} failed:\n{built.stderr}"


# Current Go libraries come from the Go module proxy (module mode), cached outside the repository.
GO_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "katka-go"
# A Go toolchain unpacked by hand into the cache (golang.org/toolchain), used when the
# machine has no Go new enough to fetch the one a module asks for (Go 1.21+ does, GOTOOLCHAIN).
GO_TOOLCHAIN = GO_CACHE / "toolchain" / "go" / "bin" / "go"


def _go_version(go: str) -> tuple[int, ...]:
    try:
        out = subprocess.run(
            [go, "env", "GOVERSION"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    digits = out.strip().removeprefix("go").split(".")
    return tuple(int(part) for part in digits[:2] if part.isdigit())


def module_go() -> str | None:
    """A Go that can switch toolchains itself (1.21+): on PATH, /usr/local/go or .ci/run's."""
    candidates = [shutil.which("go"), "/usr/local/go/bin/go", str(GO_TOOLCHAIN)]
    for go in candidates:
        if go and Path(go).exists() and _go_version(go) >= (1, 21):
            return go
    return None


def go_environment() -> dict[str, str]:
    """Module mode with every cache in GO_CACHE; Go's default module proxy."""
    return {
        **os.environ,
        "GO111MODULE": "on",
        "GOPATH": str(GO_CACHE / "gopath"),
        "GOMODCACHE": str(GO_CACHE / "gopath" / "pkg" / "mod"),
        "GOCACHE": str(GO_CACHE / "build-cache"),
        "GOTOOLCHAIN": "auto",
        "GOFLAGS": "-mod=mod",
    }


def newest_version(module: str, go: str) -> str:
    """The newest release of `module`, asked of the module proxy by Go itself; skips the test,
    loudly, when the proxy cannot be reached."""
    import json

    asked = subprocess.run(
        [go, "list", "-m", "-json", f"{module}@latest"],
        cwd=GO_CACHE,
        env=go_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if asked.returncode != 0:
        pytest.skip(
            f"SKIPPED LOUDLY: the Go module proxy did not answer for {module}: {asked.stderr}"
        )
    version: str = json.loads(asked.stdout)["Version"]
    return version


def build_go_module_program(source: Path, module: str, import_as: dict[str, str]) -> Path:
    """`source` (one main.go) built in module mode against the newest `module` from the Go
    module proxy, its imports renamed by `import_as` (old path -> new path); the module and build
    caches live in GO_CACHE, so only the first build downloads."""
    go = module_go()
    if go is None:
        pytest.skip("SKIPPED LOUDLY: no Go 1.21+ (which fetches the toolchain a module needs)")
    GO_CACHE.mkdir(parents=True, exist_ok=True)
    version = newest_version(module, go)
    text = source.read_text()
    for old, new in import_as.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    key = hashlib.sha256(f"{text}\0{module}@{version}".encode()).hexdigest()[:16]
    binary = GO_CACHE / "bin" / f"katka{source.parent.name}-{key}"
    with cache_lock("go-build"):
        if not binary.exists():
            _build_module_program(go, module, version, text, binary, source.parent.name, key)
    return binary


def _build_module_program(
    go: str, module: str, version: str, text: str, binary: Path, name: str, key: str
) -> None:
    package = GO_CACHE / "src" / f"{name}-{key}"
    package.mkdir(parents=True, exist_ok=True)
    (package / "main.go").write_text(text)
    (package / "go.mod").write_text(f"module katka{name}\n\ngo 1.21\n")
    environment = go_environment()
    for command in ([go, "get", f"{module}@{version}"], [go, "build", "-o", str(binary), "."]):
        built = subprocess.run(
            command,
            cwd=package,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert built.returncode == 0, f"{' '.join(command)} failed:\n{built.stderr}"
