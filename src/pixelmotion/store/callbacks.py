"""Provider callbacks as received: kept for the record, and for the worker to confirm a
generation id that a callback named before the job knew its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pixelmotion.store.rows import record_of, utcnow
from pixelmotion.store.tables import provider_callbacks
from pixelmotion.store.tx import Aggregate


@dataclass(frozen=True)
class ProviderCallback:
    id: int
    job_id: str
    user_id: str | None
    generation_id: str | None
    state: str | None
    body: Any
    outcome: str
    received_at: datetime


class Callbacks(Aggregate):
    def record(
        self,
        *,
        job_id: str,
        user_id: str | None,
        generation_id: str | None,
        state: str | None,
        body: Any,
        outcome: str,
        now: datetime | None = None,
    ) -> int:
        with self._db.begin() as conn:
            callback_id = conn.execute(
                provider_callbacks.insert()
                .values(job_id=job_id, user_id=user_id, generation_id=generation_id, state=state)
                .values(body=body, outcome=outcome, received_at=now or utcnow())
                .returning(provider_callbacks.c.id)
            ).scalar_one()
        return int(callback_id)

    def unconfirmed_generation_ids(self, job_id: str) -> list[str]:
        """Generation ids named by callbacks that arrived before the job knew its own."""
        query = (
            sa.select(provider_callbacks.c.generation_id)
            .where(
                provider_callbacks.c.job_id == job_id,
                provider_callbacks.c.outcome == "unconfirmed",
                provider_callbacks.c.generation_id.isnot(None),
            )
            .distinct()
        )
        with self._db.connect() as conn:
            return [str(value) for value in conn.execute(query).scalars()]

    def for_job(self, job_id: str) -> list[ProviderCallback]:
        query = (
            sa.select(provider_callbacks)
            .where(provider_callbacks.c.job_id == job_id)
            .order_by(provider_callbacks.c.id)
        )
        with self._db.connect() as conn:
            return [record_of(ProviderCallback, row, ids=("job_id",)) for row in conn.execute(query)]
