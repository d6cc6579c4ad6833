"""The "cost as work grows" section of the report (issue 17): its tables, targets and chart,
from the cost-idle-consumers and cost-partitions lines of a .jsonl (bench/cost.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.report import Results

PEERS = ("katka", "tansu", "kafka")


def _rows(results: Results, workload: str) -> dict[str, dict[str, dict[str, Any]]]:
    """broker -> variant -> line."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for line in results.lines:
        if line.get("workload") == workload and "error" not in line:
            found.setdefault(line["broker"], {})[line["variant"]] = line
    return found


def _figure(value: float | None, unit: str = "µs") -> str:
    return "—" if value is None else f"{value:,.0f} {unit}"


def section(results: Results) -> list[str]:
    idle = _rows(results, "cost-idle-consumers")
    wide = _rows(results, "cost-partitions")
    if not idle and not wide:
        return []
    growth = _growth_tables(results)
    lines = [
        "## Cost as the work grows (issue 17)",
        "",
        "Broker CPU (user+sys) per produced record while N idle consumers each long-poll their "
        "own empty partition (fetch.max.wait 500 ms; one producer, 800 records/s of 100 B, "
        "linger.ms=0). *Marginal* subtracts what the same idle consumers cost with no producer, "
        "so it is what a produce pays for the fetches it wakes.",
        "",
    ]
    if idle:
        counts = sorted({int(v) for rows in idle.values() for v in rows}, key=int)
        header = "| idle consumers | " + " | ".join(
            f"{b} per record | {b} marginal | {b} idle CPU/s" for b in PEERS if b in idle
        )
        lines += [header + " |", "|---" * (1 + 3 * sum(b in idle for b in PEERS)) + "|"]
        for count in counts:
            cells = []
            for broker in PEERS:
                if broker not in idle:
                    continue
                line = idle[broker].get(str(count), {})
                cells += [
                    _figure(line.get("cpu_us_per_record")),
                    _figure(line.get("marginal_cpu_us_per_record")),
                    "—" if "idle_cpu_per_s" not in line else f"{line['idle_cpu_per_s']:.3f} s",
                ]
            lines.append(f"| {count:,} | " + " | ".join(cells) + " |")
        lines.append("")
    if wide:
        lines += [
            "Broker CPU per idle fetch for one consumer of P partitions (fetch.max.wait 10 ms, "
            "back to back), with a fetch session (KIP-227: empty incremental fetches) and "
            "without (every fetch names all P, as librdkafka does). A peer that creates no "
            "session answers the session column with full fetches.",
            "",
            "| partitions | "
            + " | ".join(f"{b} session | {b} full" for b in PEERS if b in wide)
            + " |",
            "|---" * (1 + 2 * sum(b in wide for b in PEERS)) + "|",
        ]
        widths = sorted(
            {int(line["partitions"]) for rows in wide.values() for line in rows.values()}
        )
        for width in widths:
            cells = []
            for broker in PEERS:
                if broker not in wide:
                    continue
                session = wide[broker].get(f"{width}-session", {})
                full = wide[broker].get(f"{width}-full", {})
                used = session.get("incremental_fetches", 0) > 0
                cells += [
                    _figure(session.get("cpu_us_per_fetch"))
                    + ("" if used or not session else " (no session)"),
                    _figure(full.get("cpu_us_per_fetch")),
                ]
            lines.append(f"| {width:,} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines + growth


Column = tuple[str, str, str]  # field, header, format ("us", "int", "1f" or "2f")

CONNECTIONS_COLUMNS: list[Column] = [
    ("cpu_us_per_record", "CPU/record", "us"),
    ("records_per_s", "records/s", "int"),
    ("rss_kib_per_connection", "KiB each", "1f"),
]
PARTITIONS_COLUMNS: list[Column] = [
    ("cpu_us_per_record", "CPU/record", "us"),
    ("records_per_s", "records/s", "int"),
    ("produce_requests_per_s", "requests/s", "int"),
    ("rss_kib_per_partition", "KiB each", "1f"),
]
BATCHED_COLUMNS: list[Column] = [
    ("cpu_us_per_record", "CPU/record", "us"),
    ("records_per_s", "records/s", "int"),
    ("produce_requests_per_s", "requests/s", "int"),
    ("partitions_per_request", "partitions/request", "1f"),
    ("client_cpu_us_per_record", "client CPU/record", "us"),
    ("rss_kib_per_partition", "KiB each", "1f"),
    ("first_append_cpu_us_per_partition", "first append", "us"),
]


def _cell(line: dict[str, Any], key: str, kind: str) -> str:
    value = line.get(key)
    if value is None:
        return "—"
    if kind == "us":
        return _figure(value)
    if kind == "int":
        return f"{value:,.0f}"
    return f"{value:,.{kind}}"


def _growth_tables(results: Results) -> list[str]:
    """Producer connections and partitions: CPU per record and memory per unit."""
    lines: list[str] = []
    for workload, unit, columns, intro in (
        (
            "cost-connections",
            "connections",
            CONNECTIONS_COLUMNS,
            "N producer connections sharing 2,000 one-record Produce requests/s (acks=1): "
            "broker CPU per record, the rate reached, and resident memory per open connection "
            "(RSS with the connections open and idle, minus before, over N).",
        ),
        (
            "cost-many-partitions",
            "partitions",
            PARTITIONS_COLUMNS,
            "One librdkafka producer spreading 2,000 records/s (100 B, linger.ms=5) over P "
            "partitions of one topic: broker CPU per record, Produce requests/s (librdkafka's "
            "statistics), and resident memory per partition (what creating the topic and "
            "writing to it added to RSS, over P). librdkafka sends **one partition per Produce "
            "request**: at 10,000 partitions every record is a request of its own.",
        ),
        (
            "cost-many-partitions-batched",
            "partitions",
            BATCHED_COLUMNS,
            "The same rate and linger.ms from a producer that batches as the Java client does "
            "(bench/batching_producer.py: when the oldest open batch has lingered, one Produce "
            "request takes every partition's open batch), after one record to every partition "
            "(*first append*: broker CPU per partition for it, not in the other figures). "
            "*client CPU*: the producer process's own.",
        ),
    ):
        rows = _rows(results, workload)
        if not rows:
            continue
        present = [b for b in PEERS if b in rows]
        lines += [
            intro,
            "",
            f"| {unit} | "
            + " | ".join(f"{b} {header}" for b in present for _, header, _ in columns)
            + " |",
            "|---" * (1 + len(columns) * len(present)) + "|",
        ]
        for count in sorted({int(v) for r in rows.values() for v in r}):
            cells = [
                _cell(rows[broker].get(str(count), {}), key, kind)
                for broker in present
                for key, _, kind in columns
            ]
            lines.append(f"| {count:,} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def targets(results: Results) -> list[tuple[str, str, str]]:
    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "**not met**")

    out = []
    idle = _rows(results, "cost-idle-consumers").get("katka", {})
    if idle:
        none = idle.get("0", {}).get("cpu_us_per_record")
        most = max(idle, key=int)
        many = idle[most].get("cpu_us_per_record")
        marginal = idle[most].get("marginal_cpu_us_per_record")
        ok = None if none is None or many is None or most == "0" else many <= 1.2 * none
        out.append(
            (
                f"CPU per record with {int(most):,} idle consumers ≤ 1.2x with none",
                verdict(ok),
                f"{_figure(many)} vs {_figure(none)} (marginal {_figure(marginal)})",
            )
        )
    wide = _rows(results, "cost-partitions").get("katka", {})
    sessions = {int(v.split("-")[0]): line for v, line in wide.items() if v.endswith("-session")}
    if len(sessions) > 1:
        narrow, widest = min(sessions), max(sessions)
        a = sessions[narrow]["cpu_us_per_fetch"]
        b = sessions[widest]["cpu_us_per_fetch"]
        out.append(
            (
                f"CPU per idle fetch, {widest:,} partitions ≤ 2x {narrow:,} (fetch session)",
                verdict(b <= 2 * a),
                f"{_figure(b)} vs {_figure(a)}",
            )
        )
    connections = _rows(results, "cost-connections").get("katka", {})
    if len(connections) > 1:
        one, most = min(connections, key=int), max(connections, key=int)
        a, b = connections[one], connections[most]
        out.append(
            (
                f"CPU per record, {int(most):,} connections ≤ 1.5x {int(one):,}",
                verdict(b["cpu_us_per_record"] <= 1.5 * a["cpu_us_per_record"]),
                f"{_figure(b['cpu_us_per_record'])} vs {_figure(a['cpu_us_per_record'])} "
                f"({b['records_per_s']:,.0f} vs {a['records_per_s']:,.0f} records/s)",
            )
        )
    for workload, how in (
        ("cost-many-partitions", "librdkafka: one partition per request"),
        ("cost-many-partitions-batched", "Java client's batching: all partitions per request"),
    ):
        out += _partitions_target(results, workload, how, verdict)
    memory = _memory_reported(results)
    if memory:
        out.append(("memory per idle connection and per partition reported", "met", memory))
    startup = results.value("katka", "startup", "empty", "seconds")
    if startup is not None:
        out.append(
            (
                "start-up (empty data dir) to first Metadata ≤ 100 ms",
                verdict(startup <= 0.1),
                f"{startup * 1000:.0f} ms",
            )
        )
    return out


def _partitions_target(
    results: Results, workload: str, how: str, verdict: Any
) -> list[tuple[str, str, str]]:
    """Throughput and CPU per record at the most partitions within 1.5x of one partition."""
    rows = _rows(results, workload).get("katka", {})
    if len(rows) < 2:
        return []
    one, most = min(rows, key=int), max(rows, key=int)
    a, b = rows[one], rows[most]
    ok = (
        b["cpu_us_per_record"] <= 1.5 * a["cpu_us_per_record"]
        and b["records_per_s"] * 1.5 >= a["records_per_s"]
    )
    figures = (
        f"{_figure(b['cpu_us_per_record'])} vs {_figure(a['cpu_us_per_record'])} "
        f"({b['records_per_s']:,.0f} vs {a['records_per_s']:,.0f} records/s"
    )
    if "produce_requests_per_s" in b and "produce_requests_per_s" in a:
        figures += (
            f"; {b['produce_requests_per_s']:,.0f} vs {a['produce_requests_per_s']:,.0f} requests/s"
        )
    tansu = _rows(results, workload).get("tansu", {})
    if str(most) in tansu and str(one) in tansu:
        figures += (
            f"; Tansu {_figure(tansu[most]['cpu_us_per_record'])} vs "
            f"{_figure(tansu[one]['cpu_us_per_record'])}"
        )
    return [
        (
            f"throughput and CPU per record, {int(most):,} partitions within 1.5x of "
            f"{int(one):,} ({how})",
            verdict(ok),
            figures + ")",
        )
    ]


def _memory_reported(results: Results) -> str:
    """katka's (and its peers') resident memory per idle connection and per partition at the
    largest count measured, or '' when neither was."""
    parts = []
    for workload, field, unit in (
        ("cost-connections", "rss_kib_per_connection", "connection"),
        ("cost-many-partitions-batched", "rss_kib_per_partition", "partition"),
        ("cost-many-partitions", "rss_kib_per_partition", "partition"),
    ):
        rows = _rows(results, workload)
        if "katka" not in rows or any(unit in part for part in parts):
            continue
        most = max(rows["katka"], key=int)
        peers = ", ".join(
            f"{b} {rows[b][most][field]:,.1f}"
            for b in PEERS
            if b != "katka" and most in rows.get(b, {}) and field in rows[b][most]
        )
        parts.append(
            f"{rows['katka'][most][field]:,.1f} KiB per {unit} at {int(most):,}"
            + (f" ({peers})" if peers else "")
        )
    return "; ".join(parts)


def chart(results: Results, out: Path) -> list[str]:
    """Two curves: CPU per record vs idle consumers, CPU per fetch vs partitions."""
    idle = _rows(results, "cost-idle-consumers")
    wide = _rows(results, "cost-partitions")
    if not idle and not wide:
        return []
    import matplotlib.pyplot as plt

    from bench.report import COLORS, LABELS

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for broker, rows in idle.items():
        xs = sorted(rows, key=int)
        axes[0].plot(
            [max(int(x), 1) for x in xs],
            [rows[x]["cpu_us_per_record"] for x in xs],
            marker="o",
            color=COLORS.get(broker),
            label=f"{LABELS.get(broker, broker)}",
        )
        axes[0].plot(
            [max(int(x), 1) for x in xs],
            [rows[x]["marginal_cpu_us_per_record"] for x in xs],
            marker=".",
            linestyle="--",
            color=COLORS.get(broker),
            label=f"{LABELS.get(broker, broker)} marginal",
        )
    axes[0].set_xscale("log")
    axes[0].set_xlabel("idle consumers (0 drawn at 1)")
    axes[0].set_title("broker CPU µs per produced record (↓)")
    axes[0].legend(fontsize=8)
    for broker, rows in wide.items():
        for kind, style in (("session", "-"), ("full", ":")):
            points = sorted(
                (line["partitions"], line["cpu_us_per_fetch"])
                for variant, line in rows.items()
                if variant.endswith(kind)
            )
            if points:
                axes[1].plot(
                    [p for p, _ in points],
                    [c for _, c in points],
                    marker="o",
                    linestyle=style,
                    color=COLORS.get(broker),
                    label=f"{LABELS.get(broker, broker)} {kind}",
                )
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("partitions per consumer")
    axes[1].set_title("broker CPU µs per idle fetch (log, ↓)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "cost-growth.png", dpi=110)
    plt.close(fig)
    return ["cost-growth.png"]
