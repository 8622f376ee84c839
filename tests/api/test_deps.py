"""Where a route's short use case runs (``api/deps.py run_short``): on the event loop when all
it touches is local (a SQLite file and a directory of objects); on PostgreSQL with local
objects, in a greenlet on the loop with its store on the asyncio driver; else on a worker
thread. No blocking network round trip (PostgreSQL's sync driver, a bucket) ever holds the
loop."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pixelmotion.api.deps import run_short
from pixelmotion.app.limits import UserLimits, limits_gate
from pixelmotion.app.ports import SubmitRules, UserScope
from pixelmotion.jobs.requests import build_spec
from pixelmotion.objects import LocalObjectStore, ObjectStore
from pixelmotion.objects.s3 import S3ObjectStore
from pixelmotion.store import Store, create_engine, migrate
from pixelmotion.store.database import create_loop_engine
from pixelmotion.store.line import finish_line_reads
from pixelmotion.store.sqlite_writes import sqlite_write_lock
from tests.databases import sqlite_url

SPEC = build_spec(prompt="a cat", width=16, height=16, color_count=4, fps=12)


def scope_on(repository: Store, objects: ObjectStore) -> UserScope:
    return UserScope(repository.as_user("alice"), objects, lambda: 60, SubmitRules(provider="emulator"))


def where_it_ran(scope: UserScope, use_case: Callable[[UserScope], Any] = lambda _: None) -> tuple[bool, Any]:
    """(whether ``use_case`` ran on the loop's thread, what it returned)."""

    async def main() -> tuple[bool, Any]:
        loop_thread = threading.get_ident()

        def traced(scope: UserScope) -> tuple[int, Any]:
            return threading.get_ident(), use_case(scope)

        ran_on, found = await run_short(traced, scope)
        return ran_on == loop_thread, found

    return asyncio.run(main())


def test_runs_on_the_loop_only_with_a_local_database_and_local_objects(
    repository: Store, tmp_path: Path
) -> None:
    local = scope_on(repository, LocalObjectStore(tmp_path / "objects"))
    assert where_it_ran(local) == (not repository.db.on_postgres, None)  # no loop engine here
    # A bucket is a network round trip away (never called here: the use case touches nothing).
    bucket = scope_on(repository, S3ObjectStore("results", endpoint_url="http://127.0.0.1:9"))
    assert not bucket.local
    assert where_it_ran(bucket) == (False, None)


@pytest.mark.postgres
def test_on_postgresql_with_a_loop_engine_it_runs_on_the_loop_on_the_asyncio_driver(
    pg_repository: Store, tmp_path: Path
) -> None:
    repository = pg_repository
    job = repository.jobs.create(SPEC, user_id="alice", provider="emulator")
    loop_engine = create_loop_engine(repository.engine.url.render_as_string(hide_password=False))
    assert loop_engine is not None
    repository.db.loop_engine = loop_engine.sync_engine

    def read(scope: UserScope) -> Any:
        assert scope.store.db.on_loop and scope.store.user_id == "alice"
        return scope.store.jobs.get(job.id, user_id="alice")

    async def dispose() -> None:
        await loop_engine.dispose()

    try:
        local = scope_on(repository, LocalObjectStore(tmp_path / "objects"))
        assert where_it_ran(local, read) == (True, job)
        bucket = scope_on(repository, S3ObjectStore("results", endpoint_url="http://127.0.0.1:9"))
        assert where_it_ran(bucket, lambda scope: scope.store.db.on_loop) == (False, False)
    finally:
        repository.db.loop_engine = None
        asyncio.run(dispose())


def test_an_error_of_the_use_case_reaches_the_route_either_way(repository: Store, tmp_path: Path) -> None:
    def refuse(_: UserScope) -> None:
        raise ValueError("refused")

    for objects in (LocalObjectStore(tmp_path / "objects"), S3ObjectStore("results")):
        scope = scope_on(repository, objects)
        with pytest.raises(ValueError, match="refused"):
            asyncio.run(run_short(refuse, scope))


@pytest.fixture
def sqlite_repository(tmp_path: Path) -> Iterator[Store]:
    engine = create_engine(sqlite_url(tmp_path))
    migrate(engine, lock_dir=tmp_path)
    yield Store(engine)
    finish_line_reads(engine)
    engine.dispose()


@contextlib.contextmanager
def held_by_another_connection(store: Store) -> Iterator[Callable[[], None]]:
    """SQLite's write lock, held by a connection of its own (as another process would)."""
    holder = sqlite3.connect(store.engine.url.database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")

    def release() -> None:
        holder.execute("ROLLBACK")

    try:
        yield release
    finally:
        holder.close()


@contextlib.contextmanager
def held_by_another_writer_of_this_process(store: Store) -> Iterator[Callable[[], None]]:
    """This process's write turn, held by another thread (as the in-process worker would)."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with sqlite_write_lock(store.engine):
            taken.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    try:
        yield release.set
    finally:
        release.set()
        thread.join(10)


@pytest.mark.parametrize("held", [held_by_another_connection, held_by_another_writer_of_this_process])
@pytest.mark.parametrize("checked", [True, False], ids=["under-limits", "unchecked"])
def test_a_write_that_meets_sqlites_write_lock_waits_on_a_worker_thread_not_on_the_loop(
    sqlite_repository: Store, tmp_path: Path, held: Any, checked: bool
) -> None:
    """A wait in SQLite's busy handler on the loop would stop every request of the process
    for as long as another writer holds the file (up to the busy timeout): the use case,
    having written nothing, goes to a worker thread instead, and the loop stays free."""
    store = sqlite_repository
    scope = scope_on(store, LocalObjectStore(tmp_path / "objects"))
    gate = limits_gate(SPEC, UserLimits(max_active_jobs=10, jobs_per_hour=10)) if checked else None

    def submit(scope: UserScope) -> int:
        scope.store.jobs.submit(SPEC, user_id="alice", provider="emulator", gate=gate)
        return threading.get_ident()

    async def main() -> None:
        loop_thread = threading.get_ident()
        assert await run_short(submit, scope) == loop_thread  # nobody else writing: on the loop
        with held(store) as release:
            waiting = asyncio.create_task(run_short(submit, scope))
            await asyncio.sleep(0)  # the task runs until it first waits
            assert not waiting.done()  # it waits, and the loop is free: this line runs
            release()
            assert await asyncio.wait_for(waiting, 30) != loop_thread

    asyncio.run(main())
    with store.engine.connect() as conn:
        count = sa.select(sa.func.count()).select_from(sa.table("video_generation_jobs"))
        assert conn.execute(count).scalar_one() == 2  # each submission written once
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30_000
