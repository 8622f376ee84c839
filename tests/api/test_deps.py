"""Where a route's short use case runs (``api/deps.py run_short``): on the event loop when all
it touches is local (a SQLite file and a directory of objects); on PostgreSQL with local
objects, in a greenlet on the loop with its store on the asyncio driver; else on a worker
thread. No blocking network round trip (PostgreSQL's sync driver, a bucket) ever holds the
loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pixelmotion.api.deps import run_short
from pixelmotion.app.ports import SubmitRules, UserScope
from pixelmotion.jobs.requests import build_spec
from pixelmotion.objects import LocalObjectStore, ObjectStore
from pixelmotion.objects.s3 import S3ObjectStore
from pixelmotion.store import Store
from pixelmotion.store.database import create_loop_engine


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
    job = repository.jobs.create(
        build_spec(prompt="a cat", width=16, height=16, color_count=4, fps=12),
        user_id="alice",
        provider="emulator",
    )
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
