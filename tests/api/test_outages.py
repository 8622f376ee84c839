"""The API while PostgreSQL is away (a throwaway cluster stopped with ``pg_ctl``): every
request answers a coded 503 with Retry-After within 2 s, /healthz says the database is
unavailable, a provider callback is refused (non-200, so Luma sends it again); once the
cluster is started again the same process serves requests and finishes jobs, no restart."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from pixelmotion.security import callback_url
from tests.pgcluster import throwaway_postgres, unavailable_reason
from tests.running import start

REQUEST = {"prompt": "a red fox running through snow", "width": 8, "height": 8, "colorCount": 2, "fps": 12}
ANSWER_WITHIN = 2.0


def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_database_unavailable(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) >= 1
    assert elapsed < ANSWER_WITHIN, f"answered after {elapsed:.2f}s"


def generation(generation_id: str, job_id: str, cb_url: str) -> dict[str, Any]:
    """A Generation object as Luma POSTs it to the callback URL."""
    return {
        "id": generation_id,
        "generation_type": "video",
        "state": "dreaming",
        "failure_reason": None,
        "created_at": "2026-01-01T00:00:00Z",
        "assets": {"video": None, "image": None, "progress_video": None},
        "model": "ray-2",
        "request": {"generation_type": "video", "prompt": "x", "callback_url": cb_url},
    }


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_requests_answer_503_while_postgres_is_down_and_succeed_once_it_is_back(tmp_path: Path) -> None:
    with throwaway_postgres() as cluster, contextlib.contextmanager(start)(tmp_path, cluster.url) as site:
        with site.client("alice") as client:
            created = client.post("/v1/jobs", json=REQUEST)
            assert created.status_code == 202, created.text
            job_id = created.json()["jobId"]
            assert client.get(f"/v1/jobs/{job_id}").status_code == 200

            cluster.stop()
            assert_database_unavailable(*timed(lambda: client.get("/v1/jobs")))
            assert_database_unavailable(*timed(lambda: client.get(f"/v1/jobs/{job_id}")))
            assert_database_unavailable(*timed(lambda: client.post("/v1/jobs", json=REQUEST)))
            cb = callback_url(site.settings.callback_base_url, site.settings.secret_key, job_id)
            callback, elapsed = timed(
                lambda: httpx.post(cb, content=json.dumps(generation("g-1", job_id, cb)), timeout=10)
            )
            assert_database_unavailable(callback, elapsed)  # non-200: Luma sends it again
            health, elapsed = timed(lambda: client.get("/healthz"))
            assert health.status_code == 503 and elapsed < ANSWER_WITHIN
            assert health.json()["checks"]["database"] == {
                "ok": False,
                "error": "database unavailable",
                "exception": "OperationalError",
            }

            cluster.start()
            # The very next requests succeed: the pool reconnects by itself.
            listed = client.get("/v1/jobs")
            assert listed.status_code == 200, listed.text
            assert job_id in {job["jobId"] for job in listed.json()["jobs"]}
            again = client.post("/v1/jobs", json=REQUEST)
            assert again.status_code == 202, again.text
            assert client.get("/healthz").json()["checks"]["database"]["ok"] is True
            # And the worker in this process resumed: both jobs finish.
            for job in (job_id, again.json()["jobId"]):
                assert site.wait_for_status(client, job, {"completed", "failed"}, timeout=90)["status"] == "completed"
