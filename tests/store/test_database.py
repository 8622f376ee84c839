from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from pixelmotion.config import normalize_database_url
from pixelmotion.store import create_engine, database, migrate
from tests.databases import POSTGRES_URL, postgres_schema_url


def test_migrations_are_idempotent_and_create_every_table(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    try:
        migrate(engine, lock_dir=tmp_path)
        migrate(engine, lock_dir=tmp_path)
        names = set(sa.inspect(engine).get_table_names())
        assert {"video_generation_jobs", "job_events", "provider_callbacks", "alembic_version"} <= names
        columns = {c["name"] for c in sa.inspect(engine).get_columns("video_generation_jobs")}
        plan = {
            "id",
            "user_id",
            "project_id",
            "prompt",
            "width",
            "height",
            "color_count",
            "fps",
            "duration",
            "luma_generation_id",
            "luma_video_url",
            "status",
            "progress",
            "progress_message",
            "error_code",
            "error_message",
            "error_details",
            "total_frames",
            "frame_storage_urls",
            "frame_data",
            "processing_time_ms",
            "luma_processing_time_ms",
            "frame_processing_time_ms",
            "created_at",
            "updated_at",
            "completed_at",
        }
        assert plan <= columns
        indexes = {i["name"] for i in sa.inspect(engine).get_indexes("video_generation_jobs")}
        assert {"idx_video_jobs_user_id", "idx_video_jobs_status", "idx_video_jobs_due"} <= indexes
    finally:
        engine.dispose()


def test_processes_starting_together_migrate_once(database_url: str, tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        engine = create_engine(database_url)
        try:
            migrate(engine, lock_dir=tmp_path)
        except BaseException as error:  # collected and asserted below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_database_urls_map_to_the_pinned_driver() -> None:
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("sqlite:///var/x.db") == "sqlite:///var/x.db"


@pytest.mark.postgres
def test_a_pooled_connection_the_server_dropped_is_replaced_once_it_sat_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL restarted while the pool held a connection: the next request gets a new one
    (pinged because it sat idle), with no error. A connection in steady use is not pinged."""
    with postgres_schema_url() as url:
        engine = create_engine(url, pool_size=1, max_overflow=0)
        try:
            first_pid = _backend_pid(engine)
            _terminate(first_pid)
            monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if idle long enough
            second_pid = _backend_pid(engine)
            assert second_pid != first_pid

            monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 3600.0)  # in steady use
            _terminate(second_pid)
            with pytest.raises(sa.exc.OperationalError):
                _backend_pid(engine)  # no ping: the dropped connection fails its request…
            assert _backend_pid(engine) not in (first_pid, second_pid)  # …and the pool heals
        finally:
            engine.dispose()


@pytest.mark.postgres
def test_a_drop_seen_by_one_engine_has_the_others_connections_pinged(monkeypatch: pytest.MonkeyPatch) -> None:
    """An API process on PostgreSQL has two pools (threads' and the event loop's): once one
    sees a connection dropped (a restart), the other pings its connections before their next
    use, however briefly they sat idle, and replaces the dead ones with no error."""
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 3600.0)  # in steady use
    with postgres_schema_url() as url:
        threads = create_engine(url, pool_size=1, max_overflow=0)
        loop = create_engine(url, pool_size=1, max_overflow=0)  # the same listeners
        try:
            threads_pid, loop_pid = _backend_pid(threads), _backend_pid(loop)
            _terminate(threads_pid)
            _terminate(loop_pid)
            with pytest.raises(sa.exc.OperationalError):
                _backend_pid(threads)  # the drop, seen here
            assert _backend_pid(loop) != loop_pid  # pinged, replaced, no error
        finally:
            threads.dispose()
            loop.dispose()


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
            # Terminating is asynchronous: wait (with a deadline) until the backend is gone.
            deadline = time.monotonic() + 10
            while conn.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one():
                assert time.monotonic() < deadline, f"backend {pid} still running"
                time.sleep(0.01)
    finally:
        admin.dispose()
