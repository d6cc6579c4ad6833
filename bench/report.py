"""The markdown table (with katka/peer ratios and the issue's targets) and the PNG charts.

Everything here is computed from the .jsonl alone, so `python -m bench report FILE` can redraw
a past run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import cost_report

COLUMNS = ["katka", "katka-fsync", "tansu", "kafka", "redis"]
COLORS = {
    "katka": "#1f77b4",
    "katka-fsync": "#9ecae1",
    "katka-nodelay": "#08306b",
    "tansu": "#ff7f0e",
    "kafka": "#2ca02c",
    "redis": "#d62728",
}
LABELS = {
    "katka": "katka",
    "katka-fsync": "katka --fsync always",
    "katka-nodelay": "katka, initial delay 0",
    "tansu": "Tansu (memory)",
    "kafka": "Apache Kafka 4.4",
    "redis": "Redis Streams",
}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Results:
    def __init__(self, lines: list[dict[str, Any]]) -> None:
        self.lines = lines
        self.machine = next((r for r in lines if r.get("workload") == "machine"), {})
        self.run = next((r for r in lines if r.get("workload") == "run"), {})

    def find(self, broker: str, workload: str, variant: str | None = None) -> dict[str, Any] | None:
        for record in self.lines:
            if record.get("broker") == broker and record.get("workload") == workload:
                if variant is None or record.get("variant") == variant:
                    if "error" not in record:
                        return record
        return None

    def value(self, broker: str, workload: str, variant: str | None, metric: str) -> float | None:
        record = self.find(broker, workload, variant)
        if record is None:
            return None
        value = record.get(metric)
        return float(value) if isinstance(value, int | float) else None

    def brokers(self) -> list[str]:
        seen = []
        for record in self.lines:
            name = record.get("broker")
            if name and name not in seen:
                seen.append(name)
        return seen


@dataclass
class Row:
    title: str
    workload: str
    variant: str | None
    metric: str
    higher_is_better: bool
    fmt: Callable[[float], str]


def _rate(v: float) -> str:
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.0f} k"


def _num(digits: int) -> Callable[[float], str]:
    return lambda v: f"{v:,.{digits}f}"


def _ms(v: float) -> str:
    return f"{v:.2f} ms" if v < 10 else f"{v:.0f} ms"


def _axis(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:g} M"
    if v >= 1e3:
        return f"{v / 1e3:g} k"
    return f"{v:g}"


def _s(v: float) -> str:
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def _times(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _rows(results: Results) -> list[Row]:
    rows: list[Row] = []
    for size in ("100B", "1KiB"):
        rows += [
            Row(f"produce {size}: records/s", "produce", size, "records_per_s", True, _rate),
            Row(f"produce {size}: MB/s", "produce", size, "mb_per_s", True, _num(1)),
        ]
    for mode in ("assign", "group"):
        for size in ("100B", "1KiB"):
            rows += [
                Row(
                    f"consume ({mode}) {size}: records/s",
                    f"consume-{mode}",
                    size,
                    "records_per_s",
                    True,
                    _rate,
                ),
                Row(
                    f"consume ({mode}) {size}: MB/s",
                    f"consume-{mode}",
                    size,
                    "mb_per_s",
                    True,
                    _num(1),
                ),
            ]
        rows.append(
            Row(
                f"consume ({mode}) 100B: time to first record",
                f"consume-{mode}",
                "100B",
                "time_to_first_record_s",
                False,
                _s,
            )
        )
    for rate in (5000, 50000):
        for metric, name in (
            ("p50_ms", "p50"),
            ("p99_ms", "p99"),
            ("p99_9_ms", "p99.9"),
            ("max_ms", "max"),
        ):
            rows.append(
                Row(
                    f"e2e latency at {rate:,}/s: {name}", "latency", f"{rate}/s", metric, False, _ms
                )
            )
        for metric, name in (
            ("broker_cpu_s", "broker"),
            ("producer_cpu_s", "producer"),
            ("consumer_cpu_s", "consumer"),
        ):
            rows.append(
                Row(
                    f"e2e latency at {rate:,}/s: CPU s of the {name}",
                    "latency",
                    f"{rate}/s",
                    metric,
                    False,
                    _num(2),
                )
            )
    for workload, title in (("produce", "produce"), ("consume-assign", "consume (assign)")):
        for size in ("100B", "1KiB"):
            rows.append(
                Row(
                    f"broker CPU s per MB, {title} {size}",
                    workload,
                    size,
                    "cpu_s_per_mb",
                    False,
                    _num(4),
                )
            )
    rows.append(Row("broker peak RSS (MiB)", "resources", None, "peak_rss_mb", False, _num(0)))
    compacted = "100B, 10% live keys"
    for variant, label in ((compacted, ""), (f"{compacted}, random keys", ", random keys")):
        for title, metric, higher, fmt in (
            ("log cleaner MB/s (100 B, 10% live keys", "cleaned_mb_per_s", True, _num(1)),
            (
                "log cleaner MB per CPU second (100 B, 10% live keys",
                "cleaned_mb_per_cpu_s",
                True,
                _num(1),
            ),
            (
                "cleaner process peak RSS, MiB (100 B, 10% live keys",
                "cleaner_peak_rss_mb",
                False,
                _num(0),
            ),
            (
                "loop timer lateness p99 while cleaning, ms (100 B, 10% live keys",
                "loop_lateness_p99_ms",
                False,
                _num(1),
            ),
        ):
            rows.append(Row(f"{title}{label})", "compaction", variant, metric, higher, fmt))
    for variant in ("cleaning", "cleaner off"):
        for metric, name in (("p50_ms", "p50"), ("p99_ms", "p99"), ("max_ms", "max")):
            rows.append(
                Row(
                    f"e2e latency at 5,000/s, 1 GiB compacted partition, {variant}: {name}",
                    "compaction-latency",
                    f"5000/s, {variant}",
                    metric,
                    False,
                    _ms,
                )
            )
    for variant in ("empty",):
        rows.append(
            Row(f"start-up, {variant}: first Metadata", "startup", variant, "seconds", False, _s)
        )
    return rows


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return ""
    return f"{a / b:.3g}x"


def _cell(value: float | None, fmt: Callable[[float], str]) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fmt(value)


def table(results: Results) -> list[str]:
    present = [b for b in COLUMNS if b in results.brokers()]
    header = ["measurement", *[LABELS[b] for b in present]]
    if "tansu" in present:
        header.append("katka / Tansu")
    if "kafka" in present:
        header.append("katka / Kafka")
    if "redis" in present:
        header.append("katka / Redis")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in _rows(results):
        values = {b: results.value(b, row.workload, row.variant, row.metric) for b in present}
        if all(v is None for v in values.values()):
            continue
        cells = [row.title + (" ↑" if row.higher_is_better else " ↓")]
        cells += [_cell(values[b], row.fmt) for b in present]
        if "tansu" in present:
            cells.append(_ratio(values.get("katka"), values.get("tansu")))
        if "kafka" in present:
            cells.append(_ratio(values.get("katka"), values.get("kafka")))
        if "redis" in present:
            cells.append(_ratio(values.get("katka"), values.get("redis")))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def katka_only_table(results: Results) -> list[str]:
    rows = []
    nodelay = results.find("katka-nodelay", "consume-group", "100B")
    if nodelay:
        rows.append(
            (
                "consume (group) 100B: time to first record, group.initial.rebalance.delay.ms=0",
                _s(nodelay["time_to_first_record_s"]),
            )
        )
    for record in results.lines:
        if record.get("broker") == "katka" and record.get("workload") == "startup":
            if "error" in record:
                continue
            label = f"start-up, {record['variant']}"
            if record["variant"] == "embedded":
                label = "embedded broker: katka.embedded() ready (import excluded)"
                text = f"{_s(record['seconds'])} (import katka.embed: {_s(record['import_s'])}"
                if record.get("import_includes_hypothesis"):
                    text += ", with kio's hypothesis strategies"
                text += ")"
            elif record["variant"] == "empty" and "cpu_s" in record:
                text = f"{_s(record['seconds'])} (CPU to the first answer {_s(record['cpu_s'])})"
            else:
                text = _s(record["seconds"])
                if "partitions_seen_after_restart" in record:
                    text += f" ({record['partitions_seen_after_restart']} partitions back)"
            rows.append((label, text))
    if not rows:
        return []
    lines = ["| katka only | value |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return lines


def rebalance_table(results: Results) -> list[str]:
    records = [r for r in results.lines if r.get("workload") == "rebalance" and "error" not in r]
    if not records:
        return []
    lines = [
        "| broker | scenario: event | longest gap, any partition | longest gap, unaffected "
        "partitions (n) | every partition flowing again after | steady-state gap (baseline) |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {LABELS.get(r['broker'], r['broker'])} | {r['variant']} | "
            f"{'≥ ' if not r.get('recovered', True) else ''}{_s(r['gap_max_s'])} | "
            f"{_s(r['gap_unaffected_max_s'])} ({r['unaffected_partitions']}) | "
            f"{_s(r['all_flowing_after_s']) if r.get('recovered', True) else 'not in the window'}"
            f" | {_s(r['baseline_gap_max_s'])} |"
        )
    return lines


def targets(results: Results) -> list[tuple[str, str, str]]:
    """(target, met / not met / n/a, figures) for each target of the issue."""
    out: list[tuple[str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "**not met**")

    def cmp(workload: str, variant: str, metric: str) -> tuple[bool | None, str]:
        k = results.value("katka", workload, variant, metric)
        t = results.value("tansu", workload, variant, metric)
        if k is None or t is None:
            return None, "missing"
        return k >= t, f"katka {_rate(k)}/s vs Tansu {_rate(t)}/s ({k / t:.2f}x)"

    for workload, name in (
        ("produce", "produce"),
        ("consume-assign", "consume (assign)"),
        ("consume-group", "consume (group)"),
    ):
        for size in ("100B", "1KiB"):
            ok, text = cmp(workload, size, "records_per_s")
            out.append((f"{name} {size} records/s: katka ≥ Tansu", verdict(ok), text))
    for workload, name in (("produce", "produce"), ("consume-assign", "consume")):
        for size in ("100B", "1KiB"):
            k = results.value("katka", workload, size, "cpu_s_per_mb")
            t = results.value("tansu", workload, size, "cpu_s_per_mb")
            if k is None or t is None or t == 0:
                out.append((f"CPU s/MB {name} {size} within 2x of Tansu", "n/a", "missing"))
            else:
                out.append(
                    (
                        f"CPU s/MB {name} {size} within 2x of Tansu",
                        verdict(k <= 2 * t),
                        f"katka {k:.4f} vs Tansu {t:.4f} ({k / t:.2f}x)",
                    )
                )
    k = results.value("katka", "consume-group", "100B", "time_to_first_record_s")
    z = results.value("katka-nodelay", "consume-group", "100B", "time_to_first_record_s")
    t = results.value("tansu", "consume-group", "100B", "time_to_first_record_s")
    if t is not None:
        if k is not None:
            out.append(
                (
                    "new group time to first record ≤ Tansu (katka defaults: initial delay 3 s)",
                    verdict(k <= t),
                    f"katka {_s(k)} vs Tansu {_s(t)}",
                )
            )
        if z is not None:
            out.append(
                (
                    "new group time to first record ≤ Tansu (group.initial.rebalance.delay.ms=0)",
                    verdict(z <= t),
                    f"katka {_s(z)} vs Tansu {_s(t)}",
                )
            )
    p99 = results.value("katka", "latency", "5000/s", "p99_ms")
    out.append(
        (
            "e2e p99 at 5,000 records/s < 5 ms",
            verdict(None if p99 is None else p99 < 5),
            f"katka p99 {_ms(p99)}" if p99 is not None else "missing",
        )
    )
    redis_p99 = results.value("redis", "latency", "5000/s", "p99_ms")
    out.append(
        (
            "e2e p99 at 5,000 records/s within 2x of Redis Streams",
            verdict(None if p99 is None or redis_p99 is None else p99 <= 2 * redis_p99),
            f"katka p99 {_ms(p99)} vs Redis {_ms(redis_p99)}"
            if p99 is not None and redis_p99 is not None
            else "missing",
        )
    )
    fast_p99 = results.value("katka", "latency", "50000/s", "p99_ms")
    out.append(
        (
            "e2e p99 at 50,000 records/s (100 B) < 2 ms",
            verdict(None if fast_p99 is None else fast_p99 < 2),
            f"katka p99 {_ms(fast_p99)}" if fast_p99 is not None else "missing",
        )
    )
    for size in ("100B", "1KiB"):
        f = results.value("katka-fsync", "produce", size, "records_per_s")
        d = results.value("katka", "produce", size, "records_per_s")
        if f is not None and d is not None:
            out.append(
                (
                    f"--fsync always produce {size} ≥ half of default",
                    verdict(f >= d / 2),
                    f"{_rate(f)}/s vs {_rate(d)}/s ({f / d:.2f}x)",
                )
            )
    for r in results.lines:
        if r.get("broker") != "katka" or r.get("workload") != "rebalance" or "error" in r:
            continue
        if r["scenario"] == "cooperative-sticky" or r["scenario"] == "static":
            slack = r["baseline_gap_max_s"] + 0.1
            ok = r["gap_unaffected_max_s"] <= slack
            what = (
                "unaffected partitions keep flowing"
                if r["scenario"] != "static"
                else "no gap for the other members"
            )
            out.append(
                (
                    f"rebalance, {r['variant']}: {what} (≤ baseline + 100 ms)",
                    verdict(ok),
                    f"unaffected gap {_s(r['gap_unaffected_max_s'])} over "
                    f"{r['unaffected_partitions']} partitions, "
                    f"baseline {_s(r['baseline_gap_max_s'])}",
                )
            )
    share = results.value("katka", "share-fetch", "share", "records_per_s")
    plain = results.value("katka", "share-fetch", "consumer", "records_per_s")
    if share is not None and plain:
        out.append(
            (
                "share fetch 100 B ≥ 0.5× plain fetch records/s, one consumer",
                verdict(share >= plain / 2),
                f"share {_rate(share)}/s vs plain {_rate(plain)}/s ({share / plain:.2f}x)",
            )
        )
    cleaned = results.value("katka", "compaction", "100B, 10% live keys", "cleaned_mb_per_s")
    cleaned_cpu = results.value(
        "katka", "compaction", "100B, 10% live keys", "cleaned_mb_per_cpu_s"
    )
    if cleaned is not None:
        out.append(
            (
                "log cleaner ≥ 100 MB/s (100 B records, 10% live keys; issue 12)",
                verdict(cleaned >= 100),
                f"{cleaned:.1f} MB/s; {cleaned_cpu or 0:.1f} MB per second of the cleaner's CPU",
            )
        )
    while_cleaning = results.value("katka", "compaction-latency", "5000/s, cleaning", "p99_ms")
    cleaner_off = results.value("katka", "compaction-latency", "5000/s, cleaner off", "p99_ms")
    if while_cleaning is not None:
        out.append(
            (
                "e2e p99 at 5,000 records/s while a 1 GiB partition is cleaned < 10 ms",
                verdict(while_cleaning < 10),
                f"{_ms(while_cleaning)} (cleaner off, same run: {_ms(cleaner_off or 0)})",
            )
        )
    for r in results.lines:
        if r.get("broker") == "katka" and r.get("workload") == "startup" and "error" not in r:
            if r["variant"].endswith("partitions") and r.get("partitions", 0) >= 1000:
                out.append(
                    (
                        f"start-up with {r['partitions']} partitions < 2 s",
                        verdict(r["seconds"] < 2),
                        _s(r["seconds"]),
                    )
                )
            if r["variant"] == "embedded":
                out.append(
                    (
                        "embedded broker ready < 0.3 s",
                        verdict(r["seconds"] < 0.3),
                        f"{_s(r['seconds'])} (plus import {_s(r['import_s'])})",
                    )
                )
    return out


def markdown(results: Results, charts: list[str]) -> str:
    m = results.machine
    quick = m.get("quick")
    versions = m.get("versions", {})
    # A results file merged from several commands names them in its run line.
    default_command = f"`python -m bench run{' --quick' if quick else ''}`"
    lines = [
        "# katka vs peers"
        + (" (--quick smoke run: small sizes, not for comparison)" if quick else ""),
        "",
        f"Command: {results.run.get('command', default_command)}"
        f" — {results.run.get('seconds', '?')} s wall clock.",
        "",
        "## Machine",
        "",
        f"- CPU: {m.get('cpu')}, {m.get('cores')} cores; memory {m.get('memory_gib')} GiB",
        f"- kernel {m.get('kernel')}; Python {m.get('python')}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- load average at start {m.get('load_average_at_start')}, at end "
        f"{results.run.get('load_average_at_end')} (other work on the machine shows here)",
        "",
        "## Results",
        "",
        "↑ higher is better, ↓ lower is better; a ratio is katka's figure divided by the peer's.",
        "Throughput counts acknowledged (produce) or received (consume) record values; "
        "MB = 10^6 bytes of values.",
        "",
        *table(results),
        "",
        *katka_only_table(results),
        "",
    ]
    reb = rebalance_table(results)
    if reb:
        lines += [
            "## Consumer-group rebalance gaps",
            "",
            "Group of 3 on 12 partitions, 1,200 records/s round-robin; events a window "
            "apart. A gap is the longest time a partition went without a record handed to "
            "any consumer; unaffected partitions kept the same owner.",
            "",
            *reb,
            "",
        ]
    lines += cost_report.section(results)
    tg = targets(results) + cost_report.targets(results)
    if tg:
        lines += [
            "## Targets (issues 6, 12 and 17)",
            "",
            "| target | verdict | figures |",
            "|---|---|---|",
        ]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in tg]
        lines.append("")
    notes = []
    for r in results.lines:
        if r.get("workload") == "resources" and r.get("note"):
            notes.append(f"- {LABELS.get(r['broker'], r['broker'])}: {r['note']}")
        if r.get("workload") == "skipped":
            notes.append(f"- {r.get('label', r.get('broker'))} skipped: {r['reason']}")
        if "error" in r:
            notes.append(
                f"- {r.get('broker')} {r.get('workload')} {r.get('variant', '')}: "
                f"error {r['error']}"
            )
    if notes:
        lines += ["## Notes", "", *notes, ""]
    if charts:
        lines += ["## Charts", ""] + [f"![{c}]({c})" for c in charts] + [""]
    return "\n".join(lines)


# --- charts ----------------------------------------------------------------------------------


def _bars(
    ax: Any,
    groups: list[str],
    series: dict[str, list[float | None]],
    fmt: Callable[[float], str] | None = None,
) -> None:
    """Grouped bars; each group is centred on the bars it actually has."""
    names = [s for s in series if any(v is not None for v in series[s])]
    width = 0.8 / max(1, len(names))
    placed: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in names}
    for g in range(len(groups)):
        present = [n for n in names if series[n][g] is not None]
        for i, name in enumerate(present):
            placed[name][0].append(g - width * len(present) / 2 + width * (i + 0.5))
            placed[name][1].append(float(series[name][g]))  # type: ignore[arg-type]
    for name in names:
        xs, ys = placed[name]
        bars = ax.bar(xs, ys, width, label=LABELS.get(name, name), color=COLORS.get(name))
        if fmt:
            ax.bar_label(bars, labels=[fmt(y) for y in ys], fontsize=7, padding=1, rotation=90)
    ax.set_xticks(range(len(groups)), groups, fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def charts(results: Results, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    written: list[str] = []
    brokers = [
        b for b in ("katka", "katka-fsync", "tansu", "kafka", "redis") if b in results.brokers()
    ]
    quick = " (--quick)" if results.machine.get("quick") else ""

    # Throughput.
    groups = [
        ("produce", "100B"),
        ("produce", "1KiB"),
        ("consume-assign", "100B"),
        ("consume-assign", "1KiB"),
        ("consume-group", "100B"),
        ("consume-group", "1KiB"),
    ]
    names = [f"{w.replace('consume-', 'consume ')}\n{v}" for w, v in groups]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    for ax, metric, title, fmt in (
        (axes[0], "records_per_s", "records/s (↑)", _rate),
        (axes[1], "mb_per_s", "MB/s of record values (↑)", lambda v: f"{v:.0f}"),
    ):
        series = {b: [results.value(b, w, v, metric) for w, v in groups] for b in brokers}
        _bars(ax, names, series, fmt)
        ax.set_title(title)
        ax.margins(y=0.18)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: _axis(v)))
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(
        "Throughput: one confluent-kafka client process, 6 partitions, acks=all, "
        f"linger.ms=5{quick}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=110)
    plt.close(fig)
    written.append("throughput.png")

    # Latency distributions.
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    ticks = [50, 90, 99, 99.9, 99.99]
    for b in [*brokers]:
        record = results.find(b, "latency")
        if not record or not record.get("cdf_ms"):
            continue
        pct = [p for p, _ in record["cdf_ms"]]
        val = [max(v, 1e-3) for _, v in record["cdf_ms"]]
        x = [-math.log10(max(1e-5, 1 - p / 100)) for p in pct]
        axes[0].plot(x, val, label=LABELS.get(b, b), color=COLORS.get(b), lw=2)
    axes[0].set_yscale("log")
    axes[0].set_xticks([-math.log10(1 - t / 100) for t in ticks], [f"p{t:g}" for t in ticks])
    axes[0].set_xlim(0, 4.05)
    axes[0].set_ylabel("end-to-end latency (ms, log)")
    axes[0].set_title("latency by percentile (↓)")
    axes[0].axhline(5, color="grey", ls="--", lw=1)
    axes[0].text(0.05, 5.4, "5 ms target (p99)", fontsize=8, color="grey")
    axes[0].grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    metrics = [("p50_ms", "p50"), ("p99_ms", "p99"), ("p99_9_ms", "p99.9"), ("max_ms", "max")]
    series = {b: [results.value(b, "latency", None, m) for m, _ in metrics] for b in brokers}
    _bars(axes[1], [n for _, n in metrics], series, _ms)
    axes[1].set_yscale("log")
    axes[1].set_title("percentiles (ms, log, ↓)")
    axes[1].margins(y=0.3)
    fig.suptitle(
        "End-to-end latency: 5,000 records/s for "
        f"{(results.find('katka', 'latency') or {}).get('seconds', '?')} s, 100 B, "
        f"linger.ms=0, acks=all{quick}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)
    written.append("latency.png")

    # Rebalance gaps.
    records = [r for r in results.lines if r.get("workload") == "rebalance" and "error" not in r]
    if records:
        events = []
        for r in records:
            if r["variant"] not in events:
                events.append(r["variant"])
        fig, ax = plt.subplots(figsize=(13, 4.8))
        rb = [b for b in ("katka", "tansu", "kafka") if any(r["broker"] == b for r in records)]
        width = 0.8 / (2 * len(rb))
        for i, b in enumerate(rb):
            for j, (metric, hatch, suffix) in enumerate(
                (("gap_max_s", "", "any partition"), ("gap_unaffected_max_s", "//", "unaffected"))
            ):
                xs, ys, labels = [], [], []
                for g, ev in enumerate(events):
                    r = next((r for r in records if r["broker"] == b and r["variant"] == ev), None)
                    if r:
                        xs.append(g - 0.4 + width * (2 * i + j + 0.5))
                        ys.append(r[metric])
                        censored = j == 0 and not r.get("recovered", True)
                        labels.append(("≥ " if censored else "") + _s(r[metric]))
                bars = ax.bar(
                    xs,
                    ys,
                    width,
                    color=COLORS[b],
                    hatch=hatch,
                    alpha=1 if j == 0 else 0.55,
                    edgecolor="white",
                    label=f"{LABELS[b]}: {suffix}",
                )
                ax.bar_label(bars, labels=labels, fontsize=7, padding=1, rotation=90)
        ax.set_xticks(range(len(events)), [e.replace(": ", ":\n") for e in events], fontsize=8)
        ax.set_ylabel("longest gap without consumption (s, ↓)")
        ax.grid(axis="y", alpha=0.3)
        ax.margins(y=0.2)
        ax.legend(fontsize=8, loc="upper left")
        ax.set_title(
            "Consumer-group rebalance: 12 partitions, 3 members; 4th joins, one leaves, "
            f"one SIGKILLed (session.timeout.ms=6000); static restart{quick}",
            fontsize=10,
        )
        fig.tight_layout()
        fig.savefig(out / "rebalance.png", dpi=110)
        plt.close(fig)
        written.append("rebalance.png")

    # Cost and start-up.
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.6), gridspec_kw={"width_ratios": [3, 1.3, 2]})
    groups = [
        ("produce", "100B"),
        ("produce", "1KiB"),
        ("consume-assign", "100B"),
        ("consume-assign", "1KiB"),
    ]
    series = {
        b: [_times(results.value(b, w, v, "cpu_s_per_mb"), 1000) for w, v in groups]
        for b in brokers
    }
    _bars(
        axes[0],
        [f"{w.replace('consume-assign', 'consume')}\n{v}" for w, v in groups],
        series,
        lambda v: f"{v:.1f}",
    )
    axes[0].set_title("broker CPU ms per MB (↓)")
    axes[0].margins(y=0.2)
    axes[0].legend(fontsize=8)
    series = {b: [results.value(b, "resources", None, "peak_rss_mb")] for b in brokers}
    _bars(axes[1], ["peak RSS"], series, lambda v: f"{v:.0f}")
    axes[1].set_yscale("log")
    axes[1].set_title("broker peak RSS (MiB, log, ↓)")
    axes[1].margins(y=0.2)
    start_groups = ["empty"]
    start_brokers = [b for b in ("katka", "tansu", "kafka", "redis") if b in brokers]
    series = {b: [results.value(b, "startup", "empty", "seconds")] for b in start_brokers}
    extra = [
        r
        for r in results.lines
        if r.get("broker") == "katka"
        and r.get("workload") == "startup"
        and r.get("variant") != "empty"
        and "error" not in r
    ]
    for r in extra:
        start_groups.append(
            r["variant"].replace(" partitions", " parts").replace(" after", "\nafter")
        )
        for b in start_brokers:
            series[b].append(r["seconds"] if b == "katka" else None)
    _bars(axes[2], start_groups, series, _s)
    axes[2].set_yscale("log")
    axes[2].set_title("start-up to first Metadata (s, log, ↓)")
    axes[2].margins(y=0.3)
    fig.suptitle(
        f"Cost: broker process CPU (user+sys) per MB of record values; peak RSS; start-up{quick}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out / "cost.png", dpi=110)
    plt.close(fig)
    written.append("cost.png")
    return written


def write(path: Path) -> list[Path]:
    results = Results(load(path))
    out = path.parent
    written_charts: list[str] = []
    try:
        written_charts = charts(results, out)
        written_charts += cost_report.chart(results, out)
    except ImportError as error:  # matplotlib is an optional extra
        print(f"charts skipped: {error}")
    md = out / "latest.md"
    md.write_text(markdown(results, written_charts))
    return [md, *(out / c for c in written_charts)]
