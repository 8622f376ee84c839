"""Engines for SQLite and PostgreSQL, and applying migrations one process at a time."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed 64-bit number: the advisory lock that lets one process migrate at a time.
MIGRATION_LOCK_KEY = 0x706978656C6D6F74  # "pixelmot"
# PostgreSQL going away (a restart, a failover) must cost a quick, coded 503, never a hang:
# a connection attempt gives up after CONNECT_TIMEOUT seconds (libpq's floor is 2), a
# request waits at most POOL_TIMEOUT for a free connection, TCP keepalives notice a dead
# server, and a connection that sat idle in the pool, or since any engine of the process saw
# a connection drop, is pinged before use (``_ping_if_idle``),
# so the pool drops connections a restart killed and heals by itself without a restart of
# the process. A connection in steady use is not pinged: a ping on every checkout was one
# round trip in ten of a submission. If one dies in use, the error invalidates the whole pool.
CONNECT_TIMEOUT = 2
SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a SQLite writer waits for another to finish
POOL_TIMEOUT = 2.0
PING_AFTER_IDLE_SECONDS = 1.0
POSTGRES_CONNECT_ARGS: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings each database needs (WAL and busy timeout on SQLite)."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        sa.event.listen(engine, "connect", _configure_sqlite)
        return engine
    options: dict[str, Any] = {
        "pool_size": 10,
        "max_overflow": 20,
        "pool_timeout": POOL_TIMEOUT,
        "connect_args": POSTGRES_CONNECT_ARGS,
    }
    engine = sa.create_engine(url, **{**options, **kwargs})
    _listen_for_drops(engine)
    return engine


def create_loop_engine(url: str) -> AsyncEngine | None:
    """PostgreSQL: an engine on psycopg's asyncio driver, for the short requests an API process
    runs on its event loop (``api/deps.py run_short``, through ``Store.on_the_loop``): a round trip
    there waits without holding the loop, and the request is not handed to a thread and back.
    Bound to the loop it is first used on; dispose it (``await engine.dispose()``) on that
    loop. None on SQLite, whose calls are local."""
    if url.startswith("sqlite"):
        return None
    engine = create_async_engine(
        url, pool_size=10, max_overflow=10, pool_timeout=POOL_TIMEOUT, connect_args=POSTGRES_CONNECT_ARGS
    )
    _listen_for_drops(engine.sync_engine)
    return engine


def _listen_for_drops(engine: Engine) -> None:
    sa.event.listen(engine, "checkin", _note_checkin)
    sa.event.listen(engine, "checkout", _ping_if_idle)
    sa.event.listen(engine, "handle_error", _note_drop)


# When this process last saw a connection drop, on any of its engines (monotonic seconds): a
# pooled connection last used before then is pinged however briefly it sat idle. An API process
# on PostgreSQL has two pools (threads' and the event loop's); a restart noticed in one is news
# for the other's connections too.
_last_drop = [0.0]


def _note_drop(context: ExceptionContext) -> None:
    if context.is_disconnect:
        _last_drop[0] = time.monotonic()


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Before a pooled connection idle for over PING_AFTER_IDLE_SECONDS, or since this process
    last saw a connection drop, is used: one cheap statement; if the server dropped it, the pool
    makes a new one (``DisconnectionError``)."""
    idle_since = record.info.get("idle_since")
    if idle_since is None:
        return
    if time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS and idle_since > _last_drop[0]:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.rollback()  # the ping's own transaction (psycopg opened one)
    except Exception as error:
        raise sa_exc.DisconnectionError(f"pooled connection was dropped ({type(error).__name__})") from error


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def migrate(engine: Engine, lock_dir: Path | None = None) -> None:
    """Apply pending migrations; safe when several processes start at once."""
    with _migration_lock(engine, lock_dir) as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()


@contextmanager
def _migration_lock(engine: Engine, lock_dir: Path | None) -> Iterator[sa.Connection]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                connection.commit()
        return
    # SQLite: a file lock beside the database file.
    database = engine.url.database or ""
    lock_path = (lock_dir or Path(database).parent) / ".migrate.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Exceptions that mean "the database is away", whatever the statement was.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,  # refused, dropped, starting up, shutting down, admin shutdown
    sa_exc.InterfaceError,  # the connection was already closed
    sa_exc.TimeoutError,  # no pooled connection came free in time
)


def is_database_outage(error: BaseException) -> bool:
    """Whether ``error`` means the database is away (rather than a bug or bad data)."""
    if isinstance(error, OUTAGE_ERRORS):
        return True
    return isinstance(error, sa_exc.DBAPIError) and bool(error.connection_invalidated)
