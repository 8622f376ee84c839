"""Kept uploads: who made each, how large, and whether a job used it. A new upload is
recorded under the user's lock together with the check of the user's rate and quota, so
concurrent uploads can never pass them together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pixelmotion.store.tables import uploads as uploads_t
from pixelmotion.store.tx import Aggregate


@dataclass(frozen=True)
class UploadUsage:
    recent: list[datetime]  # when the user's uploads since the window's start came, oldest first
    kept_bytes: int  # of every upload the user still has


@dataclass(frozen=True)
class UploadRow:
    id: str
    user_id: str


class Uploads(Aggregate):
    def usage(self, user_id: str, since: datetime) -> UploadUsage:
        with self._db.connect() as conn:
            return _usage(conn, user_id, since)

    def record(
        self,
        user_id: str,
        upload_id: str,
        *,
        size: int,
        kind: str,
        now: datetime,
        since: datetime,
        check: Callable[[UploadUsage], None],
    ) -> None:
        """Insert the upload's row if ``check`` (given the user's usage) does not raise; the
        check and the insert are one transaction under the user's lock."""
        with self._db.begin_users_turn(user_id) as conn:
            check(_usage(conn, user_id, since))
            row = {"id": upload_id, "user_id": user_id, "bytes": size, "kind": kind, "created_at": now}
            conn.execute(uploads_t.insert().values(**row))

    def mark_used(self, upload_id: str, now: datetime) -> None:
        """A job names this upload: it no longer expires unused."""
        owner = self._db.owned_by(uploads_t.c.user_id)
        unused = uploads_t.c.used_at.is_(None)
        query = uploads_t.update().where(uploads_t.c.id == upload_id, unused, *owner).values(used_at=now)
        with self._db.begin_as_service() as conn:
            conn.execute(query)

    def unused_before(self, cutoff: datetime, limit: int = 500) -> list[UploadRow]:
        query = (
            sa.select(uploads_t.c.id, uploads_t.c.user_id)
            .where(uploads_t.c.used_at.is_(None), uploads_t.c.created_at < cutoff)
            .limit(limit)
        )
        with self._db.connect_as_service() as conn:
            return [UploadRow(row.id, row.user_id) for row in conn.execute(query)]

    def forget(self, upload_ids: list[str]) -> None:
        with self._db.begin_as_service() as conn:
            conn.execute(uploads_t.delete().where(uploads_t.c.id.in_(upload_ids)))

    def forget_before(self, cutoff: datetime) -> int:
        """Drop the rows of uploads older than ``cutoff`` (retention deleted their objects)."""
        with self._db.begin_as_service() as conn:
            return conn.execute(uploads_t.delete().where(uploads_t.c.created_at < cutoff)).rowcount


def _usage(conn: sa.Connection, user_id: str, since: datetime) -> UploadUsage:
    recent = conn.execute(
        sa.select(uploads_t.c.created_at)
        .where(uploads_t.c.user_id == user_id, uploads_t.c.created_at >= since)
        .order_by(uploads_t.c.created_at)
    ).scalars()
    kept = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(uploads_t.c.bytes), 0)).where(uploads_t.c.user_id == user_id)
    ).scalar_one()
    return UploadUsage(list(recent), int(kept))
