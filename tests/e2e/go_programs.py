"""Go programs of the end-to-end tests, built offline in GOPATH mode with Debian's Go against
Go libraries Debian ships (sarama 1.22, kafka-go 0.2.1), into a cache directory outside the
repository; `.ci/run` installs the packages."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

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
    if binary.exists():
        return binary
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
    return binary
