"""The uploads table: recorded under the user's lock with its check, marked used, expired;
on PostgreSQL a user sees and adds only their own rows (Row Level Security)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from pixelmotion.store import Store, utcnow
from pixelmotion.store.uploads import UploadUsage
from tests.store.test_row_level_security import as_user, pg_engine

__all__ = ["pg_engine"]


def allow(_: UploadUsage) -> None:
    pass


def test_a_refusing_check_records_nothing_and_usage_counts_what_is_kept(repository: Store) -> None:
    alice, now = repository.as_user("alice"), utcnow()
    alice.uploads.record("alice", "a" * 32, size=100, kind="image", now=now, since=now, check=allow)

    def refuse(usage: UploadUsage) -> None:
        assert usage.kept_bytes == 100 and len(usage.recent) == 1
        raise LookupError("over the limit")

    with pytest.raises(LookupError):
        alice.uploads.record("alice", "b" * 32, size=5, kind="image", now=now, since=now, check=refuse)
    assert alice.uploads.usage("alice", now - timedelta(hours=1)) == UploadUsage([now], 100)
    assert repository.uploads.unused_before(now + timedelta(seconds=1))[0].id == "a" * 32
    alice.uploads.mark_used("a" * 32, now)
    assert repository.uploads.unused_before(now + timedelta(seconds=1)) == []


@pytest.mark.postgres
def test_uploads_are_their_owners_alone(pg_engine: sa.Engine) -> None:
    service, now = Store(pg_engine), utcnow()
    alice, bob = service.as_user("alice"), service.as_user("bob")
    alice.uploads.record("alice", "c" * 32, size=10, kind="video", now=now, since=now, check=allow)
    assert bob.uploads.usage("alice", now - timedelta(hours=1)) == UploadUsage([], 0)
    bob.uploads.mark_used("c" * 32, now)  # not bob's: nothing changes
    assert [row.id for row in service.uploads.unused_before(now + timedelta(seconds=1))] == ["c" * 32]
    with pg_engine.begin() as conn:
        as_user(conn, "bob")
        assert conn.execute(sa.text("SELECT * FROM uploads")).all() == []
    with pytest.raises(sa.exc.ProgrammingError):
        bob.uploads.record("alice", "d" * 32, size=1, kind="image", now=now, since=now, check=allow)
