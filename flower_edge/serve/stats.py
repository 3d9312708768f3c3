"""What the server did, as one log line a minute instead of one line per request.

waitress logs "Task queue depth is N" on every request that has to wait for a thread:
thousands of lines under ordinary load. The server hands this object to waitress as
that logger, so the depth becomes the minute's "waited at most" figure.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

SUMMARY_EVERY_S = 60


class ServeStats:
    """Counters shared by the event loop and the request threads; `take` reads and resets."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: Counter = Counter()
        self._deepest = 0

    def add(self, what: str, n: int = 1) -> None:
        with self._lock:
            self._counts[what] += n

    def response(self, status: str) -> None:
        self.add(f"{str(status)[:1]}xx")

    def warning(self, message: str, depth: int = 0, *args) -> None:
        """Stands in for waitress's queue logger (`queue_logger.warning("... %d", depth)`)."""
        with self._lock:
            self._deepest = max(self._deepest, int(depth))

    def take(self) -> tuple[Counter, int]:
        with self._lock:
            counts, deepest = self._counts, self._deepest
            self._counts, self._deepest = Counter(), 0
        return counts, deepest


def summary(counts: Counter, deepest: int, open_now: int, seconds: float) -> str | None:
    """One line for the log, or None when nothing happened."""
    answered = sum(counts[f"{d}xx"] for d in "12345")
    closed = {k: counts[k] for k in ("evicted", "timed out", "idle closed", "refused") if counts[k]}
    if not answered and not closed:
        return None
    by_class = ", ".join(f"{counts[f'{d}xx']} {d}xx" for d in "2345" if counts[f"{d}xx"])
    line = f"last {seconds:.0f} s: {answered} requests ({by_class or 'none answered'})"
    if deepest:
        line += f", up to {deepest} waiting for a request thread"
    line += f"; {open_now} connections open"
    if closed:
        line += ", closed: " + ", ".join(f"{n} {k}" for k, n in closed.items())
    return line


def report_every(stats: ServeStats, open_connections, echo, every: float = SUMMARY_EVERY_S):
    """A daemon thread that writes `summary` each `every` seconds (nothing in a quiet minute)."""

    def loop():
        last = time.monotonic()
        while True:
            time.sleep(every)
            now = time.monotonic()
            counts, deepest = stats.take()
            line = summary(counts, deepest, open_connections(), now - last)
            last = now
            if line:
                echo(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}")

    thread = threading.Thread(target=loop, name="serve-summary", daemon=True)
    thread.start()
    return thread
