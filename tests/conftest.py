from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from pixelmotion.store import Store, create_engine, migrate
from pixelmotion.store.line import finish_line_reads
from tests.databases import postgres_schema_url, sqlite_url
from tests.running import Running, start


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that takes this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_schema_url() as url:
            yield url


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(database_url)
    migrate(engine, lock_dir=tmp_path)
    yield engine
    finish_line_reads(engine)
    engine.dispose()


@pytest.fixture
def repository(engine: Engine) -> Store:
    return Store(engine)


@pytest.fixture
def pg_repository(tmp_path: Path) -> Iterator[Store]:
    """A store on a fresh PostgreSQL schema alone, for what only PostgreSQL does."""
    with postgres_schema_url() as url:
        engine = create_engine(url)
        migrate(engine, lock_dir=tmp_path)
        yield Store(engine)
        engine.dispose()


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Iterator[Running]:
    """Served on SQLite and on PostgreSQL."""
    yield from start(tmp_path, database_url)


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[Running]:
    """Served on SQLite only, for checks the database does not change."""
    yield from start(tmp_path, f"sqlite:///{tmp_path / 'pixelmotion.db'}")


@pytest.fixture(scope="module")
def capped_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A service allowed one generation in flight at a time, each dreaming long enough for
    later jobs to wait in line behind it."""
    directory = tmp_path_factory.mktemp("capped")
    yield from start(directory, sqlite_url(directory), provider_max_in_flight="1", emulator_dream_seconds="2")
