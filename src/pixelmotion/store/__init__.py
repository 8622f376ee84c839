"""Persistence: tables, migrations and the store (one path for SQLite and PostgreSQL)."""

from pixelmotion.store.database import create_engine, migrate
from pixelmotion.store.root import Store
from pixelmotion.store.rows import utcnow

__all__ = ["Store", "create_engine", "migrate", "utcnow"]
