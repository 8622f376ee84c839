"""The API while PostgreSQL is away (a throwaway cluster stopped with ``pg_ctl``): every
request answers a coded 503 with Retry-After within 2 s, /healthz says the database is
unavailable, a provider callback is refused (non-200, so Luma sends it again); once the
cluster is started again the same process serves requests and finishes jobs, no restart."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pixelmotion.security import callback_url
from tests.pgcluster import throwaway_postgres, unavailable_reason
from tests.proxy import Proxy
from tests.running import CLIP_CACHE, Running, start
from tests.s3 import CREDENTIALS, REGION, moto_server, new_bucket_store
from tests.server import wait_for
from tests.sse import Event, read_events

REQUEST = {"prompt": "a red fox running through snow", "width": 8, "height": 8, "colorCount": 2, "fps": 12}
ANSWER_WITHIN = 2.0
# Each test bounds how soon an answer comes: run alone, not beside the parallel tier.
pytestmark = pytest.mark.alone


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
    # A short lease: a job whose step met the outage is taken up again soon after.
    serving = contextlib.contextmanager(start)
    with (
        throwaway_postgres() as cluster,
        serving(tmp_path, cluster.url, lease_seconds="3") as site,
        site.client("alice") as client,
    ):
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
            assert (
                site.wait_for_status(client, job, {"completed", "failed"}, timeout=90)["status"]
                == "completed"
            )


def settled(stats: dict[str, Any]) -> bool:
    """Every callback the emulator scheduled so far was delivered, dropped or given up on."""
    done = stats["callbacks_delivered"] + stats["callbacks_failed"] + stats["callbacks_dropped"]
    return bool(done >= stats["callbacks_sent"])


def generation_of(site: Running, job_id: str) -> str | None:
    """The job's generation id (the service's store)."""
    job = site.services.repository.jobs.get(job_id)
    return None if job is None else job.luma_generation_id


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_a_callback_lost_while_postgres_is_down_is_recovered_once_it_is_back(tmp_path: Path) -> None:
    """The provider finishes while PostgreSQL is stopped: its callback is answered non-200,
    so it is sent again, and after Luma's last try the news is lost; once the database is
    back the worker asks the provider itself (the callback grace has passed) and the job
    completes, paid once."""
    hold = f"db-down-{uuid.uuid4().hex[:8]}"
    serving = contextlib.contextmanager(start)
    with (
        throwaway_postgres() as cluster,
        serving(tmp_path, cluster.url, lease_seconds="3", callback_grace_seconds="2") as site,
        site.client("alice") as client,
    ):
        emulator = site.services.emulator
        created = client.post(
            "/v1/jobs", json={**REQUEST, "prompt": f"{REQUEST['prompt']} [[fault:hold={hold}]]"}
        )
        assert created.status_code == 202, created.text
        job_id = created.json()["jobId"]
        try:
            site.wait_for_status(client, job_id, {"dreaming"}, timeout=60)
            wait_for(lambda: settled(emulator.stats()), timeout=30, what="the callbacks so far to settle")
            undelivered = emulator.stats()["callbacks_failed"]
            generation_id = str(generation_of(site, job_id))
            cluster.stop()
            emulator.holds.release(hold)  # the generation completes now, its callback meets the outage
            # Only a 200 counts as delivered: after its last try the provider gives up on it.
            wait_for(
                lambda: emulator.stats()["callbacks_failed"] > undelivered,
                timeout=30,
                what="the provider to give up on the completed callback",
            )
            cb = callback_url(site.settings.callback_base_url, site.settings.secret_key, job_id)
            same_news = {**generation(generation_id, job_id, cb), "state": "completed"}
            answer, elapsed = timed(lambda: httpx.post(cb, content=json.dumps(same_news), timeout=10))
            assert_database_unavailable(answer, elapsed)
        finally:
            emulator.holds.release(hold)
            if not cluster.running():
                cluster.start()
        done = site.wait_for_status(client, job_id, {"completed", "failed"}, timeout=90)
        assert done["status"] == "completed", done
        stats = emulator.stats()
        assert stats["created"] == 1, "paid once"


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_an_event_stream_ends_cleanly_while_postgres_is_down_and_resumes_after(tmp_path: Path) -> None:
    hold = f"stream-{uuid.uuid4().hex[:8]}"
    serving = contextlib.contextmanager(start)
    with (
        throwaway_postgres() as cluster,
        serving(tmp_path, cluster.url, lease_seconds="3") as site,
        site.client("alice") as client,
    ):
        emulator = site.services.emulator
        created = client.post(
            "/v1/jobs", json={**REQUEST, "prompt": f"{REQUEST['prompt']} [[fault:hold={hold}]]"}
        )
        job_id = created.json()["jobId"]
        try:
            site.wait_for_status(client, job_id, {"dreaming"}, timeout=60)
            with client.stream("GET", f"/v1/jobs/{job_id}/events") as response:
                assert response.status_code == 200
                lines = response.iter_lines()
                first = next(line for line in lines if line.startswith("id: "))
                last_seen = int(first.removeprefix("id: "))
                cluster.stop()
                site.services.hub.publish(
                    job_id, "alice", last_seen + 1
                )  # the stream reads: the database is away
                rest = list(lines)  # the response ends, whole (a broken one raises here)
            assert "retry: 2000" in rest, rest
        finally:
            if not cluster.running():
                cluster.start()
            emulator.holds.release(hold)
        # The client reconnects with Last-Event-ID and reads on to the end.
        with client.stream(
            "GET", f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": str(last_seen)}
        ) as response:
            assert response.status_code == 200
            statuses = [event.data["status"] for event in read_events(response) if isinstance(event, Event)]
        assert statuses and statuses[-1] == "completed", statuses


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


def test_reads_and_uploads_answer_503_while_the_object_store_is_down(
    tmp_path: Path, s3_endpoint: str
) -> None:
    bucket = new_bucket_store(s3_endpoint, prefix="")
    proxy = Proxy(int(s3_endpoint.rsplit(":", 1)[1])).start()
    site_env = {
        "storage_url": f"s3://{bucket.bucket}/results",
        "s3_endpoint_url": proxy.url,
        "s3_region": REGION,
        "s3_access_key_id": CREDENTIALS["access_key_id"],
        "s3_secret_access_key": CREDENTIALS["secret_access_key"],
    }
    database = f"sqlite:///{tmp_path / 'pixelmotion.db'}"
    try:
        with (
            contextlib.contextmanager(start)(tmp_path, database, **site_env) as site,
            site.client() as client,
        ):
            job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
            assert (
                site.wait_for_status(client, job_id, {"completed", "failed"}, timeout=90)["status"]
                == "completed"
            )
            assert client.get(f"/v1/jobs/{job_id}/frames").status_code == 200

            proxy.set_mode("down")
            frames, elapsed = timed(lambda: client.get(f"/v1/jobs/{job_id}/frames"))
            assert frames.status_code == 503, frames.text
            assert frames.json()["error"]["code"] == "STORAGE_UNAVAILABLE"
            assert int(frames.headers["Retry-After"]) >= 1 and elapsed < ANSWER_WITHIN
            clip = next(CLIP_CACHE.glob("*.mp4"))  # the job above rendered one
            upload, elapsed = timed(
                lambda: client.post(
                    "/v1/uploads", content=clip.read_bytes(), headers={"Content-Type": "video/mp4"}
                )
            )
            assert upload.status_code == 503, upload.text
            assert upload.json()["error"]["code"] == "STORAGE_UNAVAILABLE" and elapsed < ANSWER_WITHIN + 1

            proxy.set_mode("up")
            assert client.get(f"/v1/jobs/{job_id}/frames").status_code == 200
    finally:
        proxy.close()


def test_only_outages_become_503_other_database_errors_stay_500() -> None:
    """The handlers on a bare app: an outage is a coded 503, a bug (an IntegrityError) is the
    usual logged 500, and neither leaks the statement or its parameters."""
    from fastapi import FastAPI
    from sqlalchemy import exc as sa_exc

    from pixelmotion.api.errors import install_error_handlers
    from pixelmotion.objects import StorageFull
    from tests.server import serve

    app = FastAPI()
    install_error_handlers(app)
    secret_statement = "INSERT INTO jobs VALUES ('secret-prompt')"

    @app.get("/refused")
    def refused() -> None:
        raise sa_exc.OperationalError(secret_statement, {}, ConnectionRefusedError("refused"))

    @app.get("/pool")
    def pool() -> None:
        raise sa_exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached")

    @app.get("/duplicate")
    def duplicate() -> None:
        raise sa_exc.IntegrityError(secret_statement, {}, ValueError("duplicate key"))

    @app.get("/full")
    def full() -> None:
        raise StorageFull("No space left on the storage disk to write jobs/x/a.gif.")

    with serve(app) as url, httpx.Client(base_url=url) as client:
        for path in ("/refused", "/pool"):
            response = client.get(path)
            assert response.status_code == 503 and response.headers["Retry-After"] == "2"
            assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
            assert "secret" not in response.text
        duplicate_answer = client.get("/duplicate")
        assert duplicate_answer.status_code == 500
        assert (
            duplicate_answer.json()["error"]["code"] == "INTERNAL" and "secret" not in duplicate_answer.text
        )
        full_answer = client.get("/full")
        assert full_answer.status_code == 503 and full_answer.json()["error"]["code"] == "STORAGE_FULL"
        assert int(full_answer.headers["Retry-After"]) == 30
