"""`python -m katka` and the `katka` console script: the process entry point.

kio registers hypothesis strategies for its types whenever hypothesis can be imported (it is a
test dependency, so it usually can): about 40% of a serving process's import time, for
nothing it uses. A process started here never runs property tests, so hypothesis is hidden
before kio loads. Library users and tests import katka without passing here.

`katka serve` with plain arguments starts without click (katka/cli/serving.py); everything
else, and any argument that reader does not take, goes through the click commands.
"""

from __future__ import annotations

import sys


def main() -> None:
    if "hypothesis" not in sys.modules:
        sys.modules["hypothesis"] = None  # type: ignore[assignment]  # import raises ImportError
    from katka.cli.serving import ServeUsageError, plain_serve_arguments, serve_with

    arguments = plain_serve_arguments(sys.argv[1:])
    if arguments is not None:
        try:
            serve_with(arguments)
            return
        except ServeUsageError:
            pass  # nothing was opened: the click command says what is wrong, as for any command
        except KeyboardInterrupt:  # as katka.cli.main.run() ends a command
            print("katka: interrupted", file=sys.stderr)
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(0)
    from katka.cli.main import main as run_command

    run_command()


if __name__ == "__main__":
    main()
