"""Test databases: a real SQLite file and a fresh schema on the real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

POSTGRES_URL = os.environ.get(
    "PIXELMOTION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'pixelmotion.db'}"


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections live in a new, empty schema, dropped afterwards."""
    schema = f"pm_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def query_plan(
    engine: Engine, query: sa.Select[*tuple[Any, ...]], params: dict[str, Any] | None = None
) -> str:
    """The plan the database makes for ``query`` (PostgreSQL: after ANALYZE of the jobs)."""
    with engine.connect() as conn:
        # Expanded: a list for IN becomes one parameter per item, as when it runs.
        expanded = query.compile(conn).construct_expanded_state(params)
        if engine.dialect.name == "sqlite":
            positional = expanded.positional_parameters
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {expanded.statement}", positional)
            return " ".join(str(row[-1]) for row in rows)
        conn.execute(sa.text("ANALYZE video_generation_jobs"))
        rows = conn.exec_driver_sql(f"EXPLAIN {expanded.statement}", expanded.parameters)
        return " ".join(str(row[0]) for row in rows)
