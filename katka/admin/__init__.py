"""katka's HTTP admin API: read-only JSON views of topics, groups, lag and rebalances."""

from katka.admin.server import AdminHttpServer

__all__ = ["AdminHttpServer"]
