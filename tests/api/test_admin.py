"""Admin routes need a service_role token; with one, any user's job, requeue and usage."""

from __future__ import annotations

import httpx

from pixelmotion.security import issue_token
from tests.running import Running

REQUEST = {
    "prompt": "a lighthouse at night",
    "width": 16,
    "height": 16,
    "colorCount": 4,
    "fps": 12,
    "resolution": "540p",
}


def admin_client(app: Running) -> httpx.Client:
    token = issue_token(
        app.settings.jwt_secret, "ops", audience=app.settings.jwt_audience, role="service_role"
    )
    return httpx.Client(base_url=app.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_admin_routes_refuse_ordinary_users(sqlite_app: Running) -> None:
    with sqlite_app.client("alice") as alice:
        job_id = alice.post("/v1/jobs", json=REQUEST).json()["jobId"]
        for method, path in (
            ("GET", f"/v1/admin/jobs/{job_id}"),
            ("POST", f"/v1/admin/jobs/{job_id}/requeue"),
            ("GET", "/v1/admin/usage"),
        ):
            response = alice.request(method, path)
            assert response.status_code == 403, path
            assert response.json()["error"]["code"] == "FORBIDDEN"


def test_the_service_role_sees_any_job_and_usage(sqlite_app: Running) -> None:
    with sqlite_app.client("alice") as alice, admin_client(sqlite_app) as admin:
        job_id = alice.post("/v1/jobs", json=REQUEST).json()["jobId"]
        assert admin.get(f"/v1/admin/jobs/{job_id}").json()["jobId"] == job_id
        sqlite_app.wait_for_status(alice, job_id, {"completed"})
        assert admin.post(f"/v1/admin/jobs/{job_id}/requeue").status_code == 409  # finished
        usage = admin.get("/v1/admin/usage").json()["users"]["alice"]
        assert usage["jobs"] == 1 and usage["byStatus"] == {"completed": 1} and usage["estimatedCostUsd"] > 0
