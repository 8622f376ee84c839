"""Every route of ``/openapi.json``, walked as bob against alice's resources, on PostgreSQL
with Row Level Security: each answers as if alice's job, delivery or upload did not exist
(404), or refuses bob outright where that is documented (403: admin routes need
``service_role``; 401: a provider callback's URL token, which names one job). Routes that
take no id show bob nothing of alice's. A new route fails this test until it is listed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.databases import postgres_schema_url
from tests.running import Running, start
from tests.server import free_port

pytestmark = pytest.mark.postgres

JOB = {"prompt": "a lantern swinging", "width": 16, "height": 16, "colorCount": 4, "fps": 12}
ADMIN_ROUTES = {"GET /v1/admin/jobs/{job_id}", "POST /v1/admin/jobs/{job_id}/requeue", "GET /v1/admin/usage"}
CALLBACK_ROUTES = {"POST /v1/callbacks/luma/{job_id}", "POST /functions/v1/video-webhook"}
LISTINGS = {"GET /v1/jobs", "GET /v1/webhooks", "GET /v1/events"}
CREATES = {"POST /v1/jobs", "POST /functions/v1/video-generate"}
OWN_ONLY = {"POST /v1/webhooks", "POST /v1/uploads", "GET /healthz", "GET /metrics"}  # no one else's data


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with postgres_schema_url() as url:
        yield from start(tmp_path_factory.mktemp("scopes"), url)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def alices(site: Running) -> dict[str, str]:
    """Alice's job (completed, with a webhook delivery), its delivery, her endpoint, her upload."""
    with site.client("alice") as alice:
        hook = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: deliveries fail, stay recorded
        job_id = alice.post("/v1/jobs", json={**JOB, "webhookUrl": hook}).json()["jobId"]
        assert site.wait_for_status(alice, job_id, {"completed", "failed"})["status"] == "completed"
        delivery = alice.get(f"/v1/jobs/{job_id}/deliveries").json()[0]["id"]
        endpoint = alice.get("/v1/webhooks").json()[0]["id"]
        upload = alice.post("/v1/uploads", content=png(), headers={"Content-Type": "image/png"})
        return {"job_id": job_id, "delivery_id": delivery, "endpoint_id": endpoint, **upload.json()}


def routes(site: Running) -> list[tuple[str, str]]:
    spec = httpx.get(f"{site.url}/openapi.json").json()
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item]


def test_bob_cannot_reach_anything_of_alices(site: Running) -> None:
    ids = alices(site)
    seen: dict[str, int] = {}
    with site.client("bob") as bob:
        for method, path in routes(site):
            route = f"{method} {path}"
            seen[route] = answer(bob, method, path, ids, route)
    expected = {
        route: 403 if route in ADMIN_ROUTES else 401 if route in CALLBACK_ROUTES else 404
        for route in seen
        if "{" in route or route in ADMIN_ROUTES | CALLBACK_ROUTES
    }
    walked = {route: status for route, status in seen.items() if route in expected}
    assert walked == expected
    assert set(seen) == set(expected) | LISTINGS | CREATES | OWN_ONLY, "a new route: say what bob gets"


def answer(bob: httpx.Client, method: str, path: str, ids: dict[str, Any], route: str) -> int:
    """Bob's answer to one route aimed at alice's resources (listings: checked here)."""
    url = path.format(job_id=ids["job_id"], delivery_id=ids["delivery_id"])
    if route == "POST /functions/v1/video-webhook":
        url = f"{path}?jobId={ids['job_id']}"
    if route in LISTINGS:
        return listing(bob, route, ids)
    if route in CREATES:
        # Alice's upload as bob's source or keyframe: as unknown as no upload at all.
        for body in (
            {**JOB, "keyframe": {"uploadId": ids["uploadId"]}},
            {**JOB, "source": {"type": "upload", "uploadId": ids["uploadId"]}},
        ):
            refused = bob.post(url, json=body)
            assert refused.status_code == 422 and "no such upload" in refused.text, refused.text
        return 0
    if route in OWN_ONLY:
        return 0
    headers = {"Accept": "text/event-stream"} if path.endswith("/events") else {}
    if path.endswith("/events"):
        with bob.stream(method, url, headers=headers) as response:
            return response.status_code
    return bob.request(method, url, json={} if method == "POST" else None).status_code


def listing(bob: httpx.Client, route: str, ids: dict[str, Any]) -> int:
    if route == "GET /v1/events":
        return 0  # a stream of bob's own jobs' changes: tests/api/test_events.py
    body = bob.get(route.split(" ")[1]).text
    assert ids["job_id"] not in body and ids["endpoint_id"] not in body
    return 0
