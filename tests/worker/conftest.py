"""Each test gets the worker's ports over fakes: an in-memory provider, a fake clock, a real
SQLite store in a temporary file (a few milliseconds a transaction), a local object store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from pixelmotion.config import Settings, load_settings
from pixelmotion.jobs.caps import ProviderCaps
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.requests import build_spec
from pixelmotion.objects import LocalObjectStore
from pixelmotion.providers.caps import Admission, CreditGuard
from pixelmotion.providers.health import ProviderHealth
from pixelmotion.store import Store, create_engine, migrate, utcnow
from pixelmotion.worker.ports import StepPorts
from tests.worker.memory import FakeClock, MemoryProvider


@dataclass
class Bench:
    ports: StepPorts
    provider: MemoryProvider
    clock: FakeClock
    store: Store

    def job(self, prompt: str = "a cat jumping") -> Job:
        spec = build_spec(prompt=prompt, width=16, height=16, color_count=4, fps=12)
        return self.store.jobs.create(spec, user_id="alice", provider="memory", now=self.clock())

    def current(self, job: Job) -> Job:
        found = self.store.jobs.get(job.id)
        assert found is not None
        return found

    def with_caps(self, caps: ProviderCaps) -> Bench:
        admission = Admission(caps, CreditGuard(None))
        return replace(self, ports=replace(self.ports, admission=admission))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        {
            "PIXELMOTION_DATA_DIR": str(tmp_path / "data"),
            "PIXELMOTION_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "PIXELMOTION_JOB_DEADLINE_SECONDS": "900",
        }
    )


@pytest.fixture
def bench(tmp_path: Path, settings: Settings) -> Iterator[Bench]:
    engine = create_engine(settings.database_url)
    migrate(engine, lock_dir=tmp_path)
    clock = FakeClock(utcnow())
    provider = MemoryProvider(clock)
    store = Store(engine)
    ports = StepPorts(
        store=store,
        provider=provider,
        objects=LocalObjectStore(tmp_path / "objects"),
        render_pool=None,
        admission=Admission(ProviderCaps(), CreditGuard(None)),
        provider_health=ProviderHealth(),
        settings=settings,
        owner="test-worker",
        clock=clock,
    )
    yield Bench(ports, provider, clock, store)
    engine.dispose()


Later = Callable[[float], None]
