"""The waiting line (jobs not yet sent to the provider) as one process last read it, so that
a place in a long line costs a bisection, not a count over every job ahead.

A short line is counted exactly (a count over ``idx_video_jobs_waiting``, ``store/queue.py``).
Once a count finds more than ``EXACT_UP_TO`` jobs ahead, the process keeps a copy of the
line's keys (created_at, id); a place is then read from the copy while it is under
``MAX_AGE`` seconds old, and the first reader to find it older has the line read again on a
thread of its own (one read at a time; every reader, that one too, keeps using the copy
meanwhile, or counts while there is none): a long line's read takes tens of milliseconds of
CPU, a second or more beside busy request threads, which no request should wait for. So
with any number of polls a second, the whole line is read about once a second per process,
and a place in a long line is as of at most a second or two ago.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pixelmotion.store.tables import video_generation_jobs as jobs_t

logger = logging.getLogger(__name__)

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
        self._reader: threading.Thread | None = None

    def ahead(self, key: Key) -> int | None:
        """Jobs ahead of ``key`` in the copy, or None if there is no usable copy."""
        if self.clock() - self.taken_at > STALE_AFTER:
            return None
        return bisect.bisect_left(self.keys, key)

    def due(self) -> bool:
        return self.clock() - self.taken_at > MAX_AGE

    def refresh_soon(self, connect: Callable[[], AbstractContextManager[Connection]]) -> None:
        """Read the line again on a thread of its own, unless a read is under way or one that
        ended since the caller looked made the copy fresh."""
        if not self._reading.acquire(blocking=False):
            return
        if not self.due():
            self._reading.release()
            return
        self._reader = threading.Thread(target=self._read, args=(connect,), name="waiting-line", daemon=True)
        self._reader.start()

    def _read(self, connect: Callable[[], AbstractContextManager[Connection]]) -> None:
        try:
            with connect() as conn:
                query = sa.select(jobs_t.c.created_at, jobs_t.c.id).where(WAITING)
                keys = sorted((created, str(job_id)) for created, job_id in conn.execute(query))
            self.keys, self.taken_at = keys, self.clock()
        except Exception as error:  # the database away: the next due reader tries again
            logger.warning("could not read the waiting line (%s)", type(error).__name__)
        finally:
            self._reading.release()

    def reading(self) -> bool:
        """Whether a read of the line is under way."""
        return self._reading.locked()

    def wait_for_read(self, seconds: float) -> None:
        reader = self._reader
        if reader is not None:
            reader.join(seconds)


# By the engine itself, held weakly: an id() could be a disposed engine's, reused.
_LINES: weakref.WeakKeyDictionary[Engine, WaitingLine] = weakref.WeakKeyDictionary()
_LINES_GUARD = threading.Lock()


def finish_line_reads(engine: Engine, seconds: float = 10.0) -> None:
    """Before the engine is disposed: a read under way would hand its connection back to a
    pool that is gone, where it stays open until collected."""
    with _LINES_GUARD:
        line = _LINES.get(engine)
    if line is not None:
        line.wait_for_read(seconds)


def waiting_line(engine: Engine) -> WaitingLine:
    """This process's copy of the line of ``engine``'s database (shared by every scoped store)."""
    with _LINES_GUARD:
        return _LINES.setdefault(engine, WaitingLine())
