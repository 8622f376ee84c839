"""The bare floor for ``bench/api_wrk.py``: a minimal FastAPI + SQLite app that does what the
service's routes must do at the least, and nothing else.

- ``POST /v1/jobs``: a pydantic body, one job row and one event row inserted in one transaction
  (under a process-wide write lock, as the service's store takes on SQLite);
- ``GET /v1/jobs/{id}``: one row by primary key;
- ``GET /v1/jobs``: the newest 20 rows of one user;
- ``POST /v1/callbacks/luma/{id}``: a JSON body, one row updated and one event row inserted.

Run: python bench/floor_app.py PORT SQLITE_URL (served by uvicorn with the arguments
``pixelmotion serve`` passes).
"""

from __future__ import annotations

import sys
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from pixelmotion.store import create_engine

HOST = "127.0.0.1"
metadata = sa.MetaData()
floor_jobs = sa.Table(
    "floor_jobs",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
)
sa.Index("floor_jobs_user_created", floor_jobs.c.user_id, floor_jobs.c.created_at)
floor_events = sa.Table(
    "floor_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
)


class FloorBody(BaseModel):
    prompt: str = Field(min_length=1, max_length=2000)
    width: int
    height: int
    color_count: int = Field(alias="colorCount")
    fps: int


def floor_app(database_url: str) -> FastAPI:
    engine = create_engine(database_url)
    metadata.create_all(engine)
    write_lock = threading.Lock()
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/jobs", status_code=202)
    def create(body: FloorBody) -> dict[str, str]:
        job_id, now = str(uuid.uuid4()), datetime.now(UTC).isoformat()
        with write_lock, engine.begin() as conn:
            conn.execute(
                floor_jobs.insert().values(
                    id=job_id,
                    user_id="floor-user",
                    prompt=body.prompt,
                    width=body.width,
                    height=body.height,
                    status="pending",
                    created_at=now,
                )
            )
            conn.execute(floor_events.insert().values(job_id=job_id, status="pending", created_at=now))
        return {"jobId": job_id, "status": "pending"}

    @app.get("/v1/jobs/{job_id}")
    def read(job_id: str) -> dict[str, Any]:
        with engine.connect() as conn:
            row = conn.execute(sa.select(floor_jobs).where(floor_jobs.c.id == job_id)).first()
        if row is None:
            raise HTTPException(404)
        return dict(row._mapping)

    @app.get("/v1/jobs")
    def listing() -> dict[str, Any]:
        query = (
            sa.select(floor_jobs)
            .where(floor_jobs.c.user_id == "floor-user")
            .order_by(floor_jobs.c.created_at.desc())
            .limit(20)
        )
        with engine.connect() as conn:
            return {"jobs": [dict(row._mapping) for row in conn.execute(query)]}

    @app.post("/v1/callbacks/luma/{job_id}")
    async def callback(job_id: str, request: Request) -> dict[str, Any]:
        state = (await request.json()).get("state", "dreaming")
        now = datetime.now(UTC).isoformat()

        def apply() -> None:
            with write_lock, engine.begin() as conn:
                conn.execute(floor_jobs.update().where(floor_jobs.c.id == job_id).values(status=state))
                conn.execute(floor_events.insert().values(job_id=job_id, status=state, created_at=now))

        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(apply)
        return {"received": True}

    return app


def seed(database_url: str, jobs: int) -> list[str]:
    """``jobs`` rows, the last 20 the floor's user's (the rest other users'); their ids."""
    engine = create_engine(database_url)
    metadata.create_all(engine)
    now = datetime.now(UTC)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "user_id": "floor-user" if n >= jobs - 20 else f"other-{n % 500}",
            "prompt": "a knight",
            "width": 64,
            "height": 64,
            "status": "pending",
            "created_at": now.isoformat(),
        }
        for n in range(jobs)
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 2000):
            conn.execute(floor_jobs.insert(), rows[start : start + 2000])
    engine.dispose()
    return [str(row["id"]) for row in rows]


def main() -> None:
    import uvicorn

    from pixelmotion.logs import logging_config
    from pixelmotion.serving import server_options

    port, database_url = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(
        floor_app(database_url),
        host=HOST,
        port=port,
        log_config=logging_config("json"),
        **server_options(10.0, None),
    )


if __name__ == "__main__":
    main()
