"""py-spy profiles of katka under the benchmark's produce, fetch and latency workloads.

    python -m bench profile [--seconds 8] [--out bench/results/profile]

For each phase py-spy attaches to the broker process (`py-spy record -p PID -f raw`) while the
workload runs, then the collapsed stacks are summarised: self time (the leaf frame: where the
CPU actually is) and inclusive time (any frame on the stack) per function, as % of samples.
Writes PHASE.raw (collapsed stacks: feed them to flamegraph.pl or speedscope) and summary.md.
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import kafka_workers, procs, workloads
from bench.brokers import start_broker
from bench.run import SPECS
from bench.settings import FULL

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy not found: pip install py-spy")
    return found


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match.group("file")
    for marker in ("/katka/", "/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/katka/":
                path = "katka/" + path
            break
    return f"{match.group('function')} ({path})"


def hot_lines(raw: Path, top: int = 12) -> list[tuple[str, float]]:
    """Self time by source line of the innermost katka frame (where to look in katka/)."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        count = int(match.group("count"))
        total += count
        for frame in reversed(match.group("stack").split(";")):
            found = _FRAME.match(frame)
            path = found.group("file") if found else ""
            if "/katka/" in path:
                path = "katka/" + path.split("/katka/", 1)[1]
            if path.startswith("katka/"):
                assert found
                counts[f"{found.group('function')} ({path}:{found.group('line')})"] += count
                break
    return [(name, 100 * n / total) for name, n in counts.most_common(top)] if total else []


def summarise(
    raw: Path, top: int = 20
) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        count = int(match.group("count"))
        frames = [_short(f) for f in match.group("stack").split(";") if f]
        if frames and frames[0].startswith(("process ", "thread ")):
            frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def pct(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100 * n / total) for name, n in counter.most_common(top)] if total else []

    return total, pct(own), pct(inclusive)


def _record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            _py_spy(),
            "record",
            "-p",
            str(pid),
            "-f",
            "raw",
            "-o",
            str(out),
            "-d",
            str(int(seconds)),
            "-r",
            "200",
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def run(seconds: float, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    spec = next(s for s in SPECS if s.name == "katka")
    broker, _ = start_broker(spec)
    phases: dict[str, Path] = {}
    try:
        # produce: 100-byte records as fast as one client goes, for `seconds`.
        topic = "profile-produce"
        workloads.create_topic(broker, topic, 6)
        spy = _record(broker.pid, seconds, out / "produce.raw")
        time.sleep(0.5)
        produced = procs.run(
            kafka_workers.produce, broker.bootstrap, topic, 50_000_000, 100, 5, seconds - 0.5
        )
        spy.wait(60)
        phases["produce"] = out / "produce.raw"
        print(f"produce: {produced['records'] / produced['seconds']:.0f} records/s under py-spy")

        # fetch: consumers reading the produced topic from the start, back to back.
        spy = _record(broker.pid, seconds, out / "fetch.raw")
        time.sleep(0.5)
        deadline = time.monotonic() + seconds - 0.5
        rates = []
        while time.monotonic() < deadline:
            got = procs.run(
                kafka_workers.consume, broker.bootstrap, topic, 6, produced["records"], None, 5.0
            )
            if got["steady_seconds"]:
                rates.append(got["steady_records"] / got["steady_seconds"])
        spy.wait(60)
        phases["fetch"] = out / "fetch.raw"
        print(f"fetch: {sum(rates) / max(1, len(rates)):.0f} records/s under py-spy")

        # latency: 5,000 records/s, linger.ms=0, one assigned consumer.
        spy = _record(broker.pid, min(seconds, FULL.latency_seconds), out / "latency.raw")
        settings = FULL.__class__(
            **{**FULL.__dict__, "latency_seconds": min(seconds, FULL.latency_seconds)}
        )
        result = workloads.latency(broker, settings)[0]
        spy.wait(60)
        phases["latency"] = out / "latency.raw"
        print(f"latency: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms under py-spy")
    finally:
        broker.stop()
    lines = ["# katka profile (py-spy, 200 Hz, --nonblocking)", ""]
    for phase, raw in phases.items():
        if not raw.exists():
            continue
        total, own, inclusive = summarise(raw)
        lines += [f"## {phase} ({total} samples)", "", "| self % | function |", "|---:|---|"]
        lines += [f"| {p:.1f} | `{name}` |" for name, p in own]
        lines += ["", "| inclusive % | function |", "|---:|---|"]
        lines += [f"| {p:.1f} | `{name}` |" for name, p in inclusive]
        lines += ["", "| % of samples | innermost katka line on the stack |", "|---:|---|"]
        lines += [f"| {p:.1f} | `{name}` |" for name, p in hot_lines(raw)]
        lines.append("")
    (out / "summary.md").write_text("\n".join(lines))
    print(f"wrote {out / 'summary.md'}")
