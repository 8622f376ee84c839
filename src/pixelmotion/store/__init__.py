"""Persistence: tables, migrations and the job repository (one path for SQLite and PostgreSQL)."""

from pixelmotion.store.database import create_engine, migrate
from pixelmotion.store.repository import JobRepository, utcnow

__all__ = ["JobRepository", "create_engine", "migrate", "utcnow"]
