"""SQLite's one writer at a time, as one process sees it.

This process's writers take turns on a lock of their own before the file's: SQLite's busy
handler sleeps in growing steps (up to 100 ms) while another writer holds the file, so queueing
in the process keeps writes from waiting far longer than they must. A caller that must not wait
at all (a use case on the event loop, ``writes_at_once``) takes both at once or not at all."""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

from pixelmotion.store.database import SQLITE_BUSY_TIMEOUT_MS

_WRITE_LOCKS: dict[int, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
# False while a use case runs where it must not wait for the write lock (see writes_at_once).
_WRITES_MAY_WAIT: contextvars.ContextVar[bool] = contextvars.ContextVar("writes_may_wait", default=True)


class WriteBusy(Exception):
    """SQLite's write lock is held (by this process's other writers or by another process)
    and the caller asked not to wait for it: nothing was written."""


@contextmanager
def writes_at_once() -> Iterator[None]:
    """Within it, the first SQLite write transaction takes the write lock at once or raises
    ``WriteBusy`` before it writes; later ones wait as usual. So a ``WriteBusy`` means the call
    wrote nothing and can run again where waiting stops no one (a worker thread): SQLite's busy
    handler sleeps in the thread that asked, for up to the busy timeout, and on the event loop
    that would stop every request of the process."""
    token = _WRITES_MAY_WAIT.set(False)
    try:
        yield
    finally:
        _WRITES_MAY_WAIT.reset(token)


def writing_at_once() -> bool:
    """Whether the next write transaction must take the write lock at once (``writes_at_once``)."""
    return not _WRITES_MAY_WAIT.get()


def sqlite_write_lock(engine: Engine) -> threading.RLock:
    """This process's turn to write to the engine's file."""
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(id(engine), threading.RLock())


def write_turn(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """This process's turn to write: waited for, or under ``writes_at_once`` taken at once."""
    lock = sqlite_write_lock(engine)
    return _taken_at_once(lock) if writing_at_once() else lock


@contextmanager
def _taken_at_once(lock: threading.RLock) -> Iterator[None]:
    if not lock.acquire(blocking=False):
        raise WriteBusy("another writer of this process holds the SQLite write lock")
    try:
        yield
    finally:
        lock.release()


def begin_immediate(conn: Connection) -> None:
    """Take the file's write lock now (``BEGIN IMMEDIATE``); under ``writes_at_once``, at once
    or ``WriteBusy``, after which this call's later writes wait as usual."""
    if not writing_at_once():
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    # On the driver's connection: through SQLAlchemy the three statements cost a submission
    # about a sixth more CPU.
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    driver.execute("PRAGMA busy_timeout=0")
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # extended codes keep it below
            raise
        raise WriteBusy("another connection holds the SQLite write lock") from error
    finally:
        driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _WRITES_MAY_WAIT.set(True)
