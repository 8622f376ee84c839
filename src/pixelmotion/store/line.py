"""The waiting line (jobs not yet sent to the provider) as one process last read it, so that
a place in a long line costs a bisection, not a count over every job ahead.

A short line is counted exactly (a count over ``idx_video_jobs_waiting``, ``store/queue.py``).
Once a count finds more than ``EXACT_UP_TO`` jobs ahead, the process keeps a copy of the
line's keys (created_at, id); a place is then read from the copy while it is under
``MAX_AGE`` seconds old, and the first reader to find it older reads the line again (one
reader at a time; the others keep using the copy meanwhile, or count while there is none).
So with any number of polls a second, the whole line is read about once a second per
process, and a place in a long line is as of at most a second or two ago.
"""

from __future__ import annotations

import bisect
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pixelmotion.store.tables import video_generation_jobs as jobs_t

EXACT_UP_TO = 500  # jobs ahead that are counted exactly, each time
MAX_AGE = 1.0  # seconds a copy serves before the next reader refreshes it
STALE_AFTER = 5.0  # seconds after which a copy is not used at all (counted instead)
# The waiting line's partial index condition, as literal SQL: a planner takes a partial index
# only when the query's WHERE implies the index's, which a bound parameter never does.
WAITING = sa.text("status = 'pending' AND submitted_at IS NULL")

Key = tuple[datetime, str]


class WaitingLine:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.keys: list[Key] = []
        self.taken_at = -float("inf")  # monotonic time of the read
        self._reading = threading.Lock()

    def ahead(self, key: Key) -> int | None:
        """Jobs ahead of ``key`` in the copy, or None if there is no usable copy."""
        if self.clock() - self.taken_at > STALE_AFTER:
            return None
        return bisect.bisect_left(self.keys, key)

    def due(self) -> bool:
        return self.clock() - self.taken_at > MAX_AGE

    def refresh(self, conn: Connection) -> None:
        """Read the line again, unless another reader is doing so right now."""
        if not self._reading.acquire(blocking=False):
            return
        try:
            if self.due():
                query = sa.select(jobs_t.c.created_at, jobs_t.c.id).where(WAITING)
                self.keys = sorted((created, str(job_id)) for created, job_id in conn.execute(query))
                self.taken_at = self.clock()
        finally:
            self._reading.release()


# By the engine itself, held weakly: an id() could be a disposed engine's, reused.
_LINES: weakref.WeakKeyDictionary[Engine, WaitingLine] = weakref.WeakKeyDictionary()
_LINES_GUARD = threading.Lock()


def waiting_line(engine: Engine) -> WaitingLine:
    """This process's copy of the line of ``engine``'s database (shared by every scoped store)."""
    with _LINES_GUARD:
        return _LINES.setdefault(engine, WaitingLine())
