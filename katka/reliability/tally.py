"""What the harnesses' Summary classes share: a run fails on the sum of the counters it names,
and the problems seen are logged and kept (the first 50) for the report."""

from __future__ import annotations

import logging
from typing import ClassVar

MAX_PROBLEMS = 50


class Tally:
    """A base for a @dataclass Summary: VIOLATIONS names its counters that count as failures."""

    VIOLATIONS: ClassVar[tuple[str, ...]] = ()
    LOG: ClassVar[logging.Logger] = logging.getLogger("katka.reliability")
    problems: list[str]

    @property
    def violations(self) -> int:
        return sum(int(getattr(self, name)) for name in self.VIOLATIONS)

    def problem(self, text: str) -> None:
        self.LOG.error("%s", text)
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
