"""Where a route's short use case runs (``api/deps.py run_short``): on the event loop only
when all it touches is local (a SQLite file and a directory of objects), else on a worker
thread, so no network round trip (PostgreSQL, a bucket) ever holds the loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from pixelmotion.api.deps import run_short
from pixelmotion.app.ports import SubmitRules, UserScope
from pixelmotion.objects import LocalObjectStore, ObjectStore
from pixelmotion.objects.s3 import S3ObjectStore
from pixelmotion.store import Store


def scope_on(repository: Store, objects: ObjectStore) -> UserScope:
    return UserScope(repository.as_user("alice"), objects, lambda: 60, SubmitRules(provider="emulator"))


def thread_of_use_case(scope: UserScope) -> tuple[int, int]:
    """(the loop's thread, the thread the use case ran on)."""

    async def main() -> tuple[int, int]:
        return threading.get_ident(), await run_short(scope, threading.get_ident)

    return asyncio.run(main())


def test_runs_on_the_loop_only_with_a_local_database_and_local_objects(
    repository: Store, tmp_path: Path
) -> None:
    local = scope_on(repository, LocalObjectStore(tmp_path / "objects"))
    loop_thread, ran_on = thread_of_use_case(local)
    assert (ran_on == loop_thread) is (not repository.db.on_postgres)
    # A bucket is a network round trip away (never called here: the use case touches nothing).
    bucket = scope_on(repository, S3ObjectStore("results", endpoint_url="http://127.0.0.1:9"))
    assert not bucket.local
    loop_thread, ran_on = thread_of_use_case(bucket)
    assert ran_on != loop_thread


def test_an_error_of_the_use_case_reaches_the_route_either_way(repository: Store, tmp_path: Path) -> None:
    def refuse() -> None:
        raise ValueError("refused")

    for objects in (LocalObjectStore(tmp_path / "objects"), S3ObjectStore("results")):
        scope = scope_on(repository, objects)
        with pytest.raises(ValueError, match="refused"):
            asyncio.run(run_short(scope, refuse))
