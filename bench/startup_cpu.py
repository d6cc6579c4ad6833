"""Start-up CPU of `katka serve` checkouts side by side, and the floor under them.

    python -m bench.startup_cpu 11 /path/to/old/checkout /path/to/new/checkout

Each sample spawns `python -m katka serve` on an empty data directory with PYTHONPATH on one
checkout (the checkouts take turns, so load moves all of them alike), polls Metadata v4 every
millisecond, and at the first answer reads the main thread's CPU from /proc/PID/schedstat
(nanoseconds; the worker thread that imports the rest starts after that answer); then every
thread's CPU 1.5 s later (the whole start). Bytecode is written and read, as an installed
katka has it. The floor rows are `python -c` processes that import only what any asyncio
broker using kio needs before it can answer Metadata (bench/results/cost-notes.md).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bench.brokers import free_port, kafka_metadata_once

FLOOR = {
    "python -c pass": "pass",
    "+ asyncio, uvloop": "import asyncio, uvloop",
    "+ logging, json, socket, kio codec, headers, Metadata v4": (
        "import asyncio, uvloop, logging, json, socket, kio.serial, "
        "kio.schema.request_header.v1.header, kio.schema.request_header.v2.header, "
        "kio.schema.response_header.v0.header, kio.schema.response_header.v1.header, "
        "kio.schema.metadata.v4.request, kio.schema.metadata.v4.response"
    ),
}


def _env(checkout: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if checkout:
        env["PYTHONPATH"] = checkout
    return env


def _schedstat_s(path: str) -> float:
    with open(path) as stat:
        return int(stat.read().split()[0]) / 1e9


def _all_threads_s(pid: int) -> float:
    tasks = os.listdir(f"/proc/{pid}/task")
    return sum(_schedstat_s(f"/proc/{pid}/task/{task}/schedstat") for task in tasks)


def one_start(checkout: str, settle_s: float = 1.5) -> tuple[float, float, float]:
    """(wall s, main thread CPU s at the first answer, all threads' CPU s after settle_s)."""
    data_dir = tempfile.mkdtemp(prefix="bench-startup-cpu-")
    port = free_port()
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "katka", "serve", "--listen", f"127.0.0.1:{port}",
         "--data-dir", data_dir, "--log-level", "WARNING"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(checkout), cwd=checkout,
    )  # fmt: skip
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"katka from {checkout} exited with {process.returncode}")
            try:
                kafka_metadata_once(port)
                break
            except OSError:
                time.sleep(0.001)
        wall = time.monotonic() - began
        first = _schedstat_s(f"/proc/{process.pid}/schedstat")
        time.sleep(settle_s)
        whole = _all_threads_s(process.pid)
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)
    return wall, first, whole


def floor_cpu_s(statement: str) -> float:
    code = f"import sys; sys.modules['hypothesis'] = None\n{statement}\nimport time\n"
    code += "print(time.process_time())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    return float(out.stdout)


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms | {min(samples) * 1000:.0f} ms"


def main(argv: list[str]) -> None:
    repeats, checkouts = int(argv[0]), [os.path.abspath(c) for c in argv[1:]]
    for checkout in checkouts:
        one_start(checkout, 0.1)  # writes the bytecode
    load = os.getloadavg()[0]
    floors: dict[str, list[float]] = {name: [] for name in FLOOR}
    starts: dict[str, list[tuple[float, float, float]]] = {c: [] for c in checkouts}
    for _ in range(repeats):
        for name, statement in FLOOR.items():
            floors[name].append(floor_cpu_s(statement))
        for checkout in checkouts:
            starts[checkout].append(one_start(checkout))
    print(f"load {load:.2f} -> {os.getloadavg()[0]:.2f}, {repeats} samples each")
    print(
        "| process | CPU to the first answer: median | min | wall to it: median | min "
        "| all CPU 1.5 s after the answer: median | min |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, samples in floors.items():
        print(f"| {name} (the whole process) | {_ms(samples)} | | | | |")
    for checkout, rows in starts.items():
        walls, firsts, wholes = (list(column) for column in zip(*rows, strict=True))
        print(f"| katka serve, {checkout} | {_ms(firsts)} | {_ms(walls)} | {_ms(wholes)} |")


if __name__ == "__main__":
    main(sys.argv[1:])
