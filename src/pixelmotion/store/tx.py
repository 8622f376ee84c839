"""One database for every part of the store: the engine, write transactions, the caller's
scope (Row Level Security on PostgreSQL) and who to tell about committed events."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.util import await_only

from pixelmotion.store.sqlite_writes import begin_immediate, write_turn, writing_at_once

EventListener = Callable[[str, str, int], None]
EVENTS_CHANNEL = "pixelmotion_events"
USER_ROLE = "pixelmotion_user"  # the role a scoped transaction runs as (migrations make it)
NOTIFY_BATCH = 500  # announcements per NOTIFY transaction
logger = logging.getLogger(__name__)

_ANNOUNCERS_GUARD = threading.Lock()


class Turns:
    """One lock per key, kept only while someone holds or waits for it. A thread's lock by
    default; ``Turns.on_the_loop()`` for greenlets on an event loop (a database ``on_loop``),
    where a thread's lock would stop the loop, and with it the holder: an asyncio lock waits in
    the loop instead."""

    def __init__(
        self,
        new_lock: Callable[[], Any] = threading.Lock,
        acquire: Callable[[Any], object] = lambda lock: lock.acquire(),
    ) -> None:
        self._guard = threading.Lock()  # held only between awaits, never across one
        self._new_lock = new_lock
        self._acquire = acquire
        self._locks: dict[str, tuple[Any, int]] = {}

    @classmethod
    def on_the_loop(cls) -> Turns:
        return cls(asyncio.Lock, lambda lock: await_only(lock.acquire()))

    @contextmanager
    def turn(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key) or (self._new_lock(), 0)
            self._locks[key] = (lock, users + 1)
        try:
            self._acquire(lock)
            try:
                yield
            finally:
                lock.release()
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


_USER_TURNS = Turns()
_LOOP_TURNS = Turns.on_the_loop()


def user_lock_key(user_id: str) -> int:
    """The user's PostgreSQL advisory lock key."""
    digest = hashlib.sha256(b"pixelmotion-user:" + user_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Database:
    """The engine and how a transaction starts. A scoped copy (``as_user``) runs every
    transaction as the user: on PostgreSQL it sets the caller's claims and ``SET LOCAL ROLE
    pixelmotion_user``, so Row Level Security holds even where a query forgot its
    ``WHERE user_id``."""

    def __init__(
        self,
        engine: Engine,
        *,
        listeners: list[EventListener] | None = None,
        claims: str | None = None,
        user_id: str | None = None,
        origin: Database | None = None,
    ) -> None:
        self.engine = engine
        self._listeners = listeners if listeners is not None else []  # shared by scoped copies
        self._claims = claims
        self.user_id = user_id  # the caller a scoped database acts for; None: the service
        self._origin = origin  # on the loop (``on_the_loop``): the database it was made from
        # PostgreSQL in an API process: an asyncio driver's engine (an ``AsyncEngine``'s
        # ``sync_engine``) for requests run on the event loop; the app's lifespan sets it.
        self.loop_engine: Engine | None = None

    def as_user(self, user_id: str, claims: dict[str, Any] | None = None) -> Database:
        scoped = json.dumps({**(claims or {}), "sub": user_id})
        found = Database(
            self.engine, listeners=self._listeners, claims=scoped, user_id=user_id, origin=self._origin
        )
        found.loop_engine = self.loop_engine
        return found

    def on_the_loop(self) -> Database | None:
        """This database over ``loop_engine``'s asyncio driver, for code run in a greenlet on
        the event loop (``sqlalchemy.util.greenlet_spawn``): each round trip awaits and the
        loop runs on. None without a loop engine."""
        if self.loop_engine is None:
            return None
        return Database(
            self.loop_engine,
            listeners=self._listeners,
            claims=self._claims,
            user_id=self.user_id,
            origin=self.off_loop(),
        )

    def off_loop(self) -> Database:
        """The database threads use: what a database on the loop hands work to that runs on
        threads of its own (the NOTIFY sender, the waiting line's reader)."""
        return self._origin or self

    @property
    def on_loop(self) -> bool:
        """Whether this database runs on the event loop's asyncio driver (``on_the_loop``)."""
        return self._origin is not None

    @property
    def on_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _scope(self, conn: Connection, lock_key: int | None = None) -> None:
        """PostgreSQL: the caller's claims and role (``set_config('role', …, true)`` is
        ``SET LOCAL ROLE``), and ``lock_key``'s advisory lock, in one round trip."""
        if conn.dialect.name != "postgresql":
            return
        calls: list[str] = []
        params: dict[str, Any] = {}
        if self._claims is not None:
            calls += ["set_config('request.jwt.claims', :claims, true)", "set_config('role', :role, true)"]
            params.update(claims=self._claims, role=USER_ROLE)
        if lock_key is not None:
            calls.append("pg_advisory_xact_lock(:lock_key)")
            params["lock_key"] = lock_key
        if calls:
            conn.execute(sa.text(f"SELECT {', '.join(calls)}"), params)

    @contextmanager
    def begin(self, *, lock_key: int | None = None) -> Iterator[Connection]:
        """A write transaction. On SQLite, after this process's turn to write
        (``store/sqlite_writes.py``); other processes' writers still meet the busy timeout."""
        with self._transaction() as conn:
            self._scope(conn, lock_key)
            yield conn

    @contextmanager
    def begin_users_turn(self, user_id: str) -> Iterator[Connection]:
        """A write transaction in which no other of the user's checked writes (a limit, then
        the insert it allows) can commit, in any process.

        On SQLite it holds the write lock from its first statement (``BEGIN IMMEDIATE``). On
        PostgreSQL it takes a transaction-scoped advisory lock on the user, after this
        process's own turn for the user (``_users_turn``)."""
        if self.on_postgres:
            # Context managers, entered in turn: the connection only once it is the user's turn.
            with self._users_turn(user_id), self.begin(lock_key=user_lock_key(user_id)) as conn:
                yield conn
            return
        with self._write_turn(), self.engine.connect() as conn:
            begin_immediate(conn)
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def users_turn_for_one_call(self, user_id: str) -> Iterator[Connection]:
        """PostgreSQL: a connection in autocommit mode, after this process's turn for the user,
        for one call to a function that is a whole checked write: it sets the caller's scope
        and takes the user's advisory lock itself, given ``scope_arguments``, and its statement
        is its transaction. One round trip, where BEGIN and COMMIT would add two."""
        with self._users_turn(user_id), self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")  # reset when the pool takes it back
            yield conn

    def _users_turn(self, user_id: str) -> contextlib.AbstractContextManager[None]:
        """This process's turn for the user: a flood of one user's requests queues on a Python
        lock (an asyncio one on the loop), not while holding the pool's connections, which
        every other user needs."""
        return (_LOOP_TURNS if self.on_loop else _USER_TURNS).turn(user_id)

    def scope_arguments(self, user_id: str) -> dict[str, Any]:
        """What a function that scopes itself is given (PostgreSQL): the caller's claims
        (None: the service) and the user's advisory lock key."""
        return {"claims": self._claims, "lock_key": user_lock_key(user_id)}

    @contextmanager
    def begin_as_service(self) -> Iterator[Connection]:
        """A write transaction as the service role. The user role may not update rows (only
        the service moves jobs), so a scoped store changes the caller's rows through this,
        and only with ``owned_by`` in its WHERE clause."""
        with self._transaction() as conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A write transaction after this process's turn to write; on SQLite under
        ``writes_at_once``, holding the file's write lock from the start (or ``WriteBusy``)."""
        with self._write_turn(), self.engine.begin() as conn:
            if not self.on_postgres and writing_at_once():
                begin_immediate(conn)
            yield conn

    def owned_by(self, column: sa.ColumnElement[Any]) -> list[sa.ColumnElement[bool]]:
        """The owner condition a scoped store adds to its writes (none for the service)."""
        return [] if self.user_id is None else [column == self.user_id]

    def _write_turn(self) -> contextlib.AbstractContextManager[object]:
        return contextlib.nullcontext() if self.on_postgres else write_turn(self.engine)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            self._scope(conn)
            yield conn

    def first(self, query: sa.Executable) -> sa.Row[Any] | None:
        """The first row of a read, or None."""
        with self.connect() as conn:
            return conn.execute(query).first()

    @contextmanager
    def connect_as_service(self) -> Iterator[Connection]:
        """A read that must see every user's rows (a queue position counts others' jobs);
        whoever calls it returns nothing but numbers."""
        with self.engine.connect() as conn:
            yield conn

    def add_listener(self, listener: EventListener) -> None:
        """Called with (job_id, user_id, event_id) after each committed event."""
        self._listeners.append(listener)

    def notify(self, job_id: str, user_id: str, event_id: int) -> None:
        """After an event's commit: this process's listeners, and (PostgreSQL) every other
        process's, through NOTIFY."""
        for listener in self._listeners:
            listener(job_id, user_id, event_id)
        if self.on_postgres:
            announcer(self.off_loop().engine).announce(job_id, user_id, event_id)


class Aggregate:
    """One part of the ``Store`` (jobs, events, queue…) over the shared database."""

    def __init__(self, db: Database) -> None:
        self._db = db


class Announcer:
    """NOTIFY after commit, many events to a notification, from a thread of its own.

    PostgreSQL makes every committing transaction that sent a NOTIFY take one lock for the
    whole database, through its commit, and each NOTIFY wakes every listening process: one
    per submission cost a third of the submission's CPU, in this process and the others (the
    service and PostgreSQL: 0.6 of 2.3 ms measured, bench/api_wrk.py --postgres). So writes
    commit without it and hand their events here; the sender thread sends what has come in
    one statement, then waits ``INTERVAL`` before the next, so under load each notification
    carries many events, and alone an event still leaves at once. Events go many to a
    notification (JSON arrays under PostgreSQL's 8000-byte payload limit). Ids only. The
    sender has a connection of its own, in autocommit, outside the pool. The table stays the
    truth: if a process dies before its NOTIFY, or one fails twice, the other processes'
    table scan (``events/hub.py watch_table``) still finds the event."""

    INTERVAL = 0.01  # seconds between two notifications of this process: the most a wake waits
    PAYLOAD_BYTES = 7900  # PostgreSQL refuses a payload of 8000 bytes or more

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pending: list[dict[str, Any]] = []
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Any = None  # the sender's own (psycopg, autocommit); made on first use
        self._closing = False

    def announce(self, job_id: str, user_id: str, event_id: int) -> None:
        with self._guard:
            if self._closing:
                return  # the engine is gone; the table scans find the event
            self._pending.append({"job_id": job_id, "user_id": user_id, "event_id": int(event_id)})
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pixelmotion-announcer", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._guard:
                batch, self._pending = self._pending, []
                closing = self._closing
            for start in range(0, len(batch), NOTIFY_BATCH):
                self._send(payloads(batch[start : start + NOTIFY_BATCH], self.PAYLOAD_BYTES))
            if closing:
                self._drop_connection()
                return
            time.sleep(self.INTERVAL)  # what comes meanwhile goes in the next notification

    def _send(self, batch: list[str]) -> None:
        statement = "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p"
        for attempt in (1, 2):  # a dropped connection: once more on a new one
            try:
                self._sender().execute(statement, (EVENTS_CHANNEL, batch))
                return
            except Exception as error:  # a database outage: the table scans will find them
                self._drop_connection()
                if attempt == 2:
                    kind = type(error).__name__
                    logger.warning("could not announce %d notifications (%s)", len(batch), kind)

    def _sender(self) -> Any:
        if self._connection is None or self._connection.closed:
            pooled = self._engine.raw_connection()
            connection = pooled.driver_connection
            assert connection is not None  # a live checkout always has one
            pooled.detach()  # ours alone: closed by close(), never returned to the pool
            connection.autocommit = True
            self._connection = connection
        return self._connection

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def close(self) -> None:
        """The engine was disposed: what is pending goes, then the sender's connection."""
        with self._guard:
            self._closing = True
            thread = self._thread
        if thread is None:
            self._drop_connection()
            return
        self._wake.set()
        thread.join(timeout=5)


def payloads(events: list[dict[str, Any]], limit: int) -> list[str]:
    """The events as JSON arrays of at most ``limit`` bytes each, in order."""
    found: list[str] = []
    chunk: list[str] = []
    size = 2
    for event in events:
        text = json.dumps(event, separators=(",", ":"))
        if chunk and size + len(text) + 1 > limit:
            found.append("[" + ",".join(chunk) + "]")
            chunk, size = [], 2
        chunk.append(text)
        size += len(text) + 1
    if chunk:
        found.append("[" + ",".join(chunk) + "]")
    return found


_ANNOUNCERS: weakref.WeakKeyDictionary[Engine, Announcer] = weakref.WeakKeyDictionary()


def announcer(engine: Engine) -> Announcer:
    with _ANNOUNCERS_GUARD:
        found = _ANNOUNCERS.get(engine)
        if found is None:
            found = _ANNOUNCERS[engine] = Announcer(engine)
            sa.event.listen(engine, "engine_disposed", lambda _engine: _close_announcer(_engine, found))
        return found


def _close_announcer(engine: Engine, closing: Announcer) -> None:
    """A disposed engine may be used again: its next event gets a new sender."""
    with _ANNOUNCERS_GUARD:
        if _ANNOUNCERS.get(engine) is closing:
            del _ANNOUNCERS[engine]
    closing.close()
