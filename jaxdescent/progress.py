"""Progress of a sweep: a bar of steps, fed from the host between tiles and, for tiles
predicted long, from inside the program.

The rule: the bar advances when a tile finishes (free: the host is there anyway), and
it appears at the first report after a sweep has run `DELAY` seconds (a shorter sweep
shows none and pays nothing). A
host callback inside the step loop costs about a millisecond each on CPU, so callbacks
are compiled in (about every 5% of a run) only when a tile is predicted to hold at
least `IN_LOOP_WORK` run-steps x parameters -- about a second of work or more, where
20 callbacks cost under 5%. Otherwise nothing is compiled in.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from tqdm.auto import tqdm

__all__ = ["DELAY", "IN_LOOP_WORK", "Bar", "ProgressSink", "enabled", "in_loop"]

# run-steps x parameters per tile above which the program reports from inside its loop
IN_LOOP_WORK = 1 << 31
DELAY = 0.5  # seconds a sweep runs before its bar is drawn


def enabled(progress) -> bool:
    """``progress=None`` means: on in a terminal, off under CI."""
    if progress is None:
        progress = sys.stderr.isatty() and not os.environ.get("CI")
    if not progress:
        return False
    return True


def in_loop(runs: int, steps: int, n_params: int) -> bool:
    """Whether a tile is long enough for in-loop reports to cost < 5% (module docstring)."""
    return runs * steps * max(1, n_params) >= IN_LOOP_WORK


class Bar:
    """A tqdm bar of steps (``total`` = steps x static combinations x tiles), made at
    the first report after `DELAY` seconds: a sweep that ends sooner draws nothing and
    pays nothing (making, drawing and closing a tqdm bar cost ~4% of a 6 ms sweep)."""

    def __init__(self, total: int, clock=time.monotonic):
        self.total, self.done, self.clock = total, 0, clock
        self.start = clock()
        self._bar = None

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is None:
            if self.clock() - self.start < DELAY:
                return
            self._bar = tqdm(total=self.total, desc="jd.sweep", unit="step")
            n = self.done
        self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class ProgressSink:
    """Where a compiled program's in-loop reports go: the bar attached for the tile
    that is running. One sink belongs to one compiled-program handle (its ``tick`` is a
    static argument of the program, so it must outlive a single sweep)."""

    def __init__(self):
        self.bar: Any = None
        self.done = 0

    def attach(self, bar) -> None:
        self.bar, self.done = bar, 0

    def tick(self, done) -> None:
        """Host side of the in-program callbacks: the running run has taken ``done``
        steps (a count lower than the last one means the next run has begun)."""
        bar = self.bar
        if bar is not None:
            done, last = int(done), self.done
            bar.update(done - last if done > last else done)
            self.done = done
