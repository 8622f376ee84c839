"""The description of the operators' routes: the service role's admin routes, health and
metrics."""

from __future__ import annotations

from typing import Any

from pixelmotion.api.docs_common import JSON, SERVICE, Doc, Operations
from pixelmotion.api.examples import EXAMPLE_FAILED_JOB


def health(database: dict[str, Any], *, running: bool) -> dict[str, Any]:
    """An answer of ``/healthz``: ok when the database is."""
    checks = {"database": database, "provider": {"name": "luma", "ok": True}, "worker": {"running": running}}
    return {"ok": database["ok"], "checks": checks}


OPERATIONS: Operations = {
    ("get", "/v1/admin/jobs/{job_id}"): Doc(
        "Read any user's job (service role)",
        "For tokens whose `role` is `service_role`.",
        errors=(401, 403, 404),
        security=SERVICE,
        examples={"200": EXAMPLE_FAILED_JOB},
    ),
    ("post", "/v1/admin/jobs/{job_id}/requeue"): Doc(
        "Make a job's next step due now (service role)",
        errors=(401, 403, 409),
        security=SERVICE,
        error_codes={409: ("JOB_NOT_ACTIVE", "Only an unfinished job can be requeued.")},
    ),
    ("get", "/v1/admin/usage"): Doc(
        "Jobs and spend per user (service role)",
        errors=(401, 403, 422),
        security=SERVICE,
        examples={
            "200": {
                "since": "2026-05-03T10:00:00Z",
                "users": {
                    "alice": {
                        "jobs": 3,
                        "byStatus": {"completed": 2, "failed": 1},
                        "estimatedCostUsd": 1.1943,
                    }
                },
            }
        },
    ),
    ("get", "/healthz"): Doc(
        "Health",
        "For load balancers and orchestrators: 200 when the database answers and the provider is "
        "usable, else 503 with the failing check. `worker.running` tells whether this process runs "
        "a worker (false for `serve --no-worker`).",
        responses={
            "503": {
                "description": "A check failed",
                "content": {
                    JSON: {"example": health({"ok": False, "error": "OperationalError"}, running=False)}
                },
            }
        },
        examples={"200": health({"ok": True, "dialect": "postgresql"}, running=True)},
    ),
    ("get", "/metrics"): Doc(
        "Prometheus metrics",
        responses={
            "200": {
                "description": "Prometheus text format",
                "content": {
                    "text/plain": {
                        "schema": {"type": "string"},
                        "example": "# TYPE pixelmotion_jobs gauge\n"
                        'pixelmotion_jobs{status="completed"} 42.0\n'
                        "pixelmotion_queue_depth 0.0\n",
                    }
                },
            }
        },
    ),
}
