"""Row Level Security on the real PostgreSQL: even a query with no ``WHERE user_id`` leaks
nothing across users, and users cannot change jobs (only the service does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pixelmotion.app.limits import UserLimits, limits_gate
from pixelmotion.jobs.moves import failed
from pixelmotion.jobs.requests import build_spec
from pixelmotion.jobs.states import JobStatus
from pixelmotion.store import Store, create_engine, migrate
from tests.databases import postgres_schema_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(tmp_path: Path) -> Iterator[Engine]:
    with postgres_schema_url() as url:
        engine = create_engine(url)
        migrate(engine, lock_dir=tmp_path)
        yield engine
        engine.dispose()


def as_user(conn: sa.Connection, user_id: str) -> None:
    conn.execute(
        sa.text("SELECT set_config('request.jwt.claims', :c, true)"), {"c": json.dumps({"sub": user_id})}
    )
    conn.execute(sa.text("SET LOCAL ROLE pixelmotion_user"))


def test_a_raw_select_as_another_user_sees_nothing(pg_engine: Engine) -> None:
    service = Store(pg_engine)
    job = service.jobs.create(
        build_spec(prompt="alice's cat", width=16, height=16, color_count=4, fps=12),
        user_id="alice",
        provider="emulator",
    )
    with pg_engine.begin() as conn:
        as_user(conn, "bob")
        assert conn.execute(sa.text("SELECT * FROM video_generation_jobs")).all() == []
        assert conn.execute(sa.text("SELECT * FROM job_events")).all() == []
    with pg_engine.begin() as conn:
        as_user(conn, "alice")
        rows = conn.execute(sa.text("SELECT id FROM video_generation_jobs")).all()
        assert [str(r[0]) for r in rows] == [job.id]
    with pg_engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL ROLE pixelmotion_user"))  # no claims at all
        assert conn.execute(sa.text("SELECT * FROM video_generation_jobs")).all() == []


def test_the_repository_as_a_user_cannot_read_another_users_job(pg_engine: Engine) -> None:
    service = Store(pg_engine)
    job = service.jobs.create(
        build_spec(prompt="alice's dog", width=16, height=16, color_count=4, fps=12),
        user_id="alice",
        provider="emulator",
    )
    assert service.as_user("bob").jobs.get(job.id) is None  # no user filter in the query: RLS alone
    assert service.as_user("alice").jobs.get(job.id) is not None
    assert service.as_user("bob").events.after(job_id=job.id) == []


def test_users_insert_only_their_own_rows_and_never_update(pg_engine: Engine) -> None:
    service = Store(pg_engine)
    spec = build_spec(prompt="a fish", width=16, height=16, color_count=4, fps=12)
    mine = service.as_user("bob").jobs.create(spec, user_id="bob", provider="emulator")
    assert mine.user_id == "bob"
    with pytest.raises(sa.exc.ProgrammingError):  # row-level security: WITH CHECK fails
        service.as_user("bob").jobs.create(spec, user_id="alice", provider="emulator")
    # A checked submission is one call to pixelmotion_submit_job, which scopes itself.
    gate = limits_gate(spec, UserLimits())
    checked = service.as_user("bob").jobs.submit(spec, user_id="bob", provider="emulator", gate=gate)
    assert service.jobs.get(checked.job.id) == checked.job
    with pytest.raises(sa.exc.ProgrammingError):
        service.as_user("bob").jobs.submit(spec, user_id="alice", provider="emulator", gate=gate)
    assert service.jobs.list_for_user("alice") == []
    with pg_engine.begin() as conn, pytest.raises(sa.exc.ProgrammingError):
        as_user(conn, "bob")
        conn.execute(sa.text("UPDATE video_generation_jobs SET status = 'completed'"))
    with pg_engine.begin() as conn, pytest.raises(sa.exc.ProgrammingError):
        as_user(conn, "bob")
        conn.execute(sa.text("SELECT * FROM provider_callbacks"))


def test_rls_is_forced_on_the_plans_tables(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                "WHERE relname IN ('video_generation_jobs', 'job_events', 'provider_callbacks', "
                "'webhook_endpoints', 'webhook_deliveries', 'idempotency_keys') "
                "AND relnamespace = current_schema()::regnamespace"
            )
        ).all()
    assert sorted(rows) == [
        (t, True, True)
        for t in (
            "idempotency_keys",
            "job_events",
            "provider_callbacks",
            "video_generation_jobs",
            "webhook_deliveries",
            "webhook_endpoints",
        )
    ]


def test_webhook_endpoints_and_deliveries_are_their_owners_alone(pg_engine: Engine) -> None:
    service = Store(pg_engine)
    alice, bob = service.as_user("alice"), service.as_user("bob")
    endpoint = alice.webhooks.endpoint("alice", "https://alice.example/hook", new_secret=lambda: "whsec_a")
    spec = build_spec(prompt="a frog", width=16, height=16, color_count=4, fps=12)
    job = alice.jobs.create(
        replace(spec, webhook_endpoint_id=endpoint.id, webhook_events="all"),
        user_id="alice",
        provider="emulator",
    )
    (delivery,) = alice.webhooks.deliveries_for(job.id)
    # Bob's store sees none of it, even with no user filter in the query (RLS alone).
    assert bob.webhooks.endpoint_by_id(endpoint.id) is None
    assert bob.webhooks.deliveries_for(job.id) == []
    assert bob.webhooks.redeliver(job.id, delivery.id) is None
    with pg_engine.begin() as conn:
        as_user(conn, "bob")
        assert conn.execute(sa.text("SELECT * FROM webhook_endpoints")).all() == []
        assert conn.execute(sa.text("SELECT * FROM webhook_deliveries")).all() == []
    with pg_engine.begin() as conn, pytest.raises(sa.exc.ProgrammingError):
        as_user(conn, "bob")
        conn.execute(sa.text("UPDATE webhook_endpoints SET url = 'https://bob.example/'"))
    # Alice's own store reads and changes what is hers; a write as someone else fails.
    assert alice.webhooks.endpoint_by_id(endpoint.id) == endpoint
    assert alice.webhooks.redeliver(job.id, delivery.id) is not None
    with pytest.raises(sa.exc.ProgrammingError):
        bob.webhooks.endpoint("alice", "https://bob.example/hook", new_secret=lambda: "whsec_b")


def test_a_users_store_changes_only_its_own_jobs(pg_engine: Engine) -> None:
    service = Store(pg_engine)
    spec = build_spec(prompt="a bee", width=16, height=16, color_count=4, fps=12)
    job = service.as_user("alice").jobs.create(spec, user_id="alice", provider="emulator")
    cancel = failed("CANCELED", "by a stranger")
    assert service.as_user("bob").jobs.apply(job.id, cancel) is None
    assert service.as_user("bob").jobs.update_fields(job.id, JobStatus.PENDING, {"project_id": "x"}) is None
    assert service.jobs.get(job.id) == job
    assert service.as_user("alice").jobs.apply(job.id, cancel) is not None
