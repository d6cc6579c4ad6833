"""Reliability harnesses: crash consistency under SIGKILL (`python -m katka.reliability.crash`)
and protocol fuzzing over real sockets (`python -m katka.reliability.fuzz`).

Both drive a real `katka serve` subprocess (see process.py) and print one summary line; the
bounded runs in tests/reliability call the same `run()` functions."""
