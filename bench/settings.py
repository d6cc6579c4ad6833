"""Workload sizes for the full run and for --quick."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    quick: bool
    produce_records: dict[int, int]  # record size -> records per produce run
    produce_max_seconds: float
    repeats: int = 5
    partitions: int = 6
    linger_ms: int = 5
    latency_rate: int = 5000  # the rate of the rows measured at one rate (compaction)
    latency_rates: tuple[int, ...] = (5000, 50000)
    latency_seconds: float = 10.0
    latency_size: int = 100
    rebalance_strategies: tuple[str, ...] = ("range", "cooperative-sticky", "static")
    rebalance_partitions: int = 12
    rebalance_rate: int = 1200
    rebalance_window_s: float = 6.0
    rebalance_baseline_s: float = 3.0
    session_timeout_ms: int = 6000
    startup_repeats: int = 3  # restarts with data, embedded starts
    startup_empty_repeats: int = 10
    startup_partitions: int = 1000
    startup_records_per_partition: int = 100
    cost_idle_consumers: tuple[int, ...] = (0, 10, 100, 1000)
    cost_partitions: tuple[int, ...] = (10, 100, 1000)
    cost_seconds: float = 10.0
    cost_rate: int = 800
    cost_connections: tuple[int, ...] = (1, 10, 100, 1000)
    # Records/s shared by the connections (and spread over the partitions). The 10,000
    # one-record requests/s (1,000 connections at 10/s) is more than one Python core answers
    # (about 150 µs each on this shared machine): the rows would compare overloads.
    cost_connection_rate: int = 2_000
    cost_many_partitions: tuple[int, ...] = (1, 10_000)


FULL = Settings(
    quick=False,
    produce_records={100: 1_000_000, 1024: 300_000},
    produce_max_seconds=20.0,
)

QUICK = Settings(
    quick=True,
    produce_records={100: 150_000, 1024: 40_000},
    produce_max_seconds=6.0,
    repeats=1,
    latency_seconds=2.0,
    rebalance_strategies=("cooperative-sticky",),
    rebalance_window_s=2.5,
    rebalance_baseline_s=1.0,
    startup_repeats=1,
    startup_empty_repeats=3,
    startup_partitions=100,
    startup_records_per_partition=20,
    cost_idle_consumers=(0, 10, 100),
    cost_partitions=(10, 100),
    cost_seconds=3.0,
    cost_connections=(1, 100),
    cost_many_partitions=(1, 1000),
)
