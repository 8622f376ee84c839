from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from pixelmotion.config import normalize_database_url
from pixelmotion.store import create_engine, migrate


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
