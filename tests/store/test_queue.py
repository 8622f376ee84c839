"""A job's place in line: a count over the waiting line's index in a short line, a bisection
of a copy of the line, refreshed about once a second, in a long one: a poll of
``GET /v1/jobs/{id}`` must not cost more as the backlog grows."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pixelmotion.jobs.caps import ProviderCaps
from pixelmotion.store import Store, utcnow
from pixelmotion.store.line import EXACT_UP_TO, MAX_AGE, STALE_AFTER, WaitingLine, waiting_line
from pixelmotion.store.queue import _counts_ahead
from pixelmotion.store.rows import new_job_row
from pixelmotion.store.tables import video_generation_jobs as jobs_t
from tests.databases import query_plan
from tests.store.test_repository import spec

BACKLOG = 2000


def fill_line(engine: Engine, count: int, finished: int = 0) -> None:
    """Other users' jobs waiting to be sent (and ``finished`` done ones), older than any the
    test makes next."""
    start = utcnow() - timedelta(hours=1)
    rows = [
        new_job_row(spec(), job_id=str(uuid.uuid4()), user_id=f"other-{n % 7}", provider="luma", now=start)
        for n in range(count + finished)
    ]
    for row in rows[count:]:
        row.update(status="completed", submitted_at=start, next_run_at=None)
    with engine.begin() as conn:
        conn.execute(jobs_t.insert(), rows)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement run meanwhile."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "after_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "after_cursor_execute", record)


def test_a_place_in_a_short_line_is_one_count_not_a_read_of_the_line(
    engine: Engine, repository: Store
) -> None:
    fill_line(engine, EXACT_UP_TO - 10)
    mine = [repository.jobs.create(spec(), user_id="me", provider="luma") for _ in range(3)]
    for _ in range(2):
        with statements(engine) as seen:
            assert repository.queue.queue_position(mine[0]) == EXACT_UP_TO - 9
        assert [s for s in seen if "video_generation_jobs" in s] == [s for s in seen if "count(" in s.lower()]
        assert len(seen) == 1
    # A page: one statement, each job counted from the one before it, right positions.
    with statements(engine) as seen:
        assert repository.queue.queue_positions(list(reversed(mine))) == {
            job.id: EXACT_UP_TO - 9 + n for n, job in enumerate(mine)
        }
    assert len(seen) == 1 and seen[0].lower().count("count(") == 3


def test_a_place_in_a_long_line_is_read_from_a_copy_refreshed_once_a_second(
    engine: Engine, repository: Store
) -> None:
    now = [0.0]
    line = waiting_line(engine)
    line.clock = lambda: now[0]
    fill_line(engine, BACKLOG)
    mine = [repository.jobs.create(spec(), user_id="me", provider="luma") for _ in range(3)]
    with statements(engine) as seen:
        assert repository.queue.queue_position(mine[2]) == BACKLOG + 3  # counted; copied apart
        settled(line)
    assert len(seen) == 2
    with statements(engine) as seen:  # within the second: no statement at all, however many
        for _ in range(50):
            assert repository.queue.queue_positions(mine) == {
                job.id: BACKLOG + 1 + n for n, job in enumerate(mine)
            }
    assert seen == []
    # Jobs ahead leave the line: the copy says so once it is refreshed, a second later.
    assert repository.queue.reserve_provider_slot(mine[0].id, ProviderCaps()) is None
    assert repository.queue.queue_position(mine[2]) == BACKLOG + 3
    now[0] += MAX_AGE + 0.1
    with statements(engine) as seen:
        assert repository.queue.queue_position(mine[2]) == BACKLOG + 3  # from the copy; read again…
        settled(line)
    assert len(seen) == 1 and "count(" not in seen[0].lower()
    assert repository.queue.queue_position(mine[2]) == BACKLOG + 2  # …the next sees the change
    # A copy too old is not used: counted again.
    now[0] += STALE_AFTER + 1
    with statements(engine) as seen:
        assert repository.queue.queue_position(mine[2]) == BACKLOG + 2
    assert any("count(" in s.lower() for s in seen)


def test_the_count_walks_an_index_not_the_table(engine: Engine, repository: Store) -> None:
    fill_line(engine, BACKLOG, finished=4 * BACKLOG)  # a table of mostly finished jobs
    first, last = (repository.jobs.create(spec(), user_id="me", provider="luma") for _ in range(2))
    # The page's statement: the first job's count, then the last's from the first.
    keys = {"created_0": first.created_at, "id_0": first.id, "created_1": last.created_at, "id_1": last.id}
    plan = query_plan(engine, _counts_ahead(2), keys)
    if engine.dialect.name == "sqlite":
        assert plan.count("COVERING INDEX idx_video_jobs_waiting") == 2, plan
    else:  # the planner may take the creation-time index for a narrow range: no table scan
        assert "Index" in plan and "Seq Scan" not in plan, plan
    assert repository.queue.queue_positions([first, last]) == {first.id: BACKLOG + 1, last.id: BACKLOG + 2}


def test_no_reader_waits_for_the_lines_read(engine: Engine, repository: Store) -> None:
    now = [0.0]
    line = waiting_line(engine)
    line.clock = lambda: now[0]
    fill_line(engine, BACKLOG)
    mine = [repository.jobs.create(spec(), user_id="me", provider="luma") for _ in range(2)]
    assert repository.queue.queue_positions(mine)[mine[0].id] == BACKLOG + 1
    settled(line)
    now[0] += MAX_AGE + 0.1
    release = threading.Event()

    @contextmanager
    def held_connection() -> Iterator[Connection]:
        release.wait(30)  # a read that takes as long as the test wants
        with engine.connect() as conn:
            yield conn

    line.refresh_soon(held_connection)
    try:
        for _ in range(20):  # answered from the copy while the read is held, none starts another
            with statements(engine) as seen:
                assert repository.queue.queue_positions(mine) == {
                    mine[0].id: BACKLOG + 1,
                    mine[1].id: BACKLOG + 2,
                }
            assert seen == [] and line.reading()
    finally:
        release.set()
    settled(line)
    assert not line.due()


def settled(line: WaitingLine, seconds: float = 30) -> None:
    """Wait, with a deadline, until no read of the line is under way."""
    deadline = time.monotonic() + seconds
    while line.reading():
        assert time.monotonic() < deadline, "the line's read did not finish"
        time.sleep(0.005)
