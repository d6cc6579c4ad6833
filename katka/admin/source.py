"""Where the console's documents come from: one shape, two sources.

`BrokerSource` reads a katka broker's own state (views.py, share_views.py) on its event loop.
`katka console --bootstrap-server` serves the same pages for any Kafka cluster from a source
that polls it through the Kafka protocol (katka/cli/console/kafka_source.py). Both build their
documents with documents.py, so lag, storms and /metrics mean the same thing whichever answers.

A source that cannot give a view (a Kafka cluster has no cleaner history) returns None for
it via `missing`, and the page says which katka-only views are missing and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from katka.admin import share_views, views

if TYPE_CHECKING:
    from katka.node import Node

Document = dict[str, Any]

# Every view a source may answer: the admin API's paths name them (server.ROUTES).
VIEWS = (
    "health",
    "topics",
    "topic",
    "cleaner",
    "groups",
    "group",
    "rebalances",
    "lag",
    "transactions",
    "transaction",
    "share_groups",
    "share_group",
)


class ViewSource(Protocol):
    kind: str  # "katka": the broker itself; "kafka": a cluster seen through the protocol
    # katka-only views this source cannot give: view name -> why (shown on the page).
    missing: dict[str, str]
    # True: views read state owned by the event loop the server runs on (answered there);
    # False: they may block (client calls), so the server answers them on a worker thread.
    on_loop: bool

    def view(self, name: str, *arguments: str) -> Document | None:
        """The document of one view (None: not found)."""
        ...

    def action(self, name: str, *arguments: str | bytes) -> Document:
        """A POST (reset_offsets: group id, JSON body); raises offset_reset.Refused."""
        ...


class BrokerSource:
    """The broker's own state; runs on its event loop, the one owner of that state."""

    kind = "katka"
    missing: dict[str, str] = {}
    on_loop = True

    def __init__(self, node: Node) -> None:
        self.node = node

    def view(self, name: str, *arguments: str) -> Document | None:
        function = getattr(share_views if name.startswith("share_") else views, name)
        document: Document | None = function(self.node, *arguments)
        if name == "health" and document is not None:
            document = {**document, "source": self.kind, "missing": self.missing}
        return document

    def action(self, name: str, *arguments: str | bytes) -> Document:
        assert name == "reset_offsets", name
        group_id, body = arguments
        assert isinstance(group_id, str) and isinstance(body, bytes)
        from katka.admin import offset_reset

        return offset_reset.reset_offsets(self.node, group_id, body)
