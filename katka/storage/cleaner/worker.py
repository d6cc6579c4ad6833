"""The cleaner's own process: `python -m katka.storage.cleaner.worker` reads one pickled
`CleaningJob` on stdin, runs it and writes ("ok", CleaningResult) or ("error", message),
pickled, on stdout.

A process rather than a thread because Python threads share one GIL: a cleaning thread made
every socket call of the event loop wait for it. A plain subprocess rather than
multiprocessing, whose spawn start re-imports the embedding program's __main__. The job only
reads closed segments (through the broker's descriptors, via /proc) and writes `.cleaned`
files; the broker's process swaps them in. The worker dies with the broker (Linux
PR_SET_PDEATHSIG), so a SIGKILLed broker leaves no cleaner running. It runs at a lower
priority (nice 5): on a machine short of cores the broker's requests go first, and the
cleaner catches up when they leave it room.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import resource
import signal
import sys

NICENESS = 5


def peak_rss_bytes() -> int:
    """VmHWM, this process's own high-water mark (getrusage's ru_maxrss would include the
    broker's resident set at the fork: Linux keeps it across exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> int:
    if "hypothesis" not in sys.modules:  # as katka/__main__.py: kio's strategies cost imports
        sys.modules["hypothesis"] = None  # type: ignore[assignment]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the broker's to handle
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    try:  # background work: on a busy machine produce and fetch go first
        os.nice(NICENESS)
    except OSError:
        pass
    job = pickle.load(sys.stdin.buffer)
    try:
        result = job.run()
        # this process's high-water mark: the key map (log.cleaner.dedupe.buffer.size at
        # most), the runs being decoded and the interpreter itself
        result.stats.peak_rss_bytes = peak_rss_bytes()
        outcome: tuple[str, object] = ("ok", result)
    except Exception as error:  # reported to the broker, which logs it and retries later
        outcome = ("error", f"{type(error).__name__}: {error}")
    pickle.dump(outcome, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
