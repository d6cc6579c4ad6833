"""`python -m katka` and the `katka` console script: the process entry point.

kio registers hypothesis strategies for its types whenever hypothesis can be imported (it is a
test dependency, so it usually can): about 40% of a serving process's import time, for
nothing it uses. A process started here never runs property tests, so hypothesis is hidden
before kio loads. Library users and tests import katka without passing here.
"""

from __future__ import annotations

import sys


def main() -> None:
    if "hypothesis" not in sys.modules:
        sys.modules["hypothesis"] = None  # type: ignore[assignment]  # import raises ImportError
    from katka.cli.main import main as run_command

    run_command()


if __name__ == "__main__":
    main()
