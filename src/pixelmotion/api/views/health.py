"""``/healthz``: is the database reachable, is the provider usable, is a worker running."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from pixelmotion.api.deps import ServicesDep
from pixelmotion.app.admin import ServiceScope
from pixelmotion.app.health import health_checks

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> JSONResponse:
    ok, checks = health_checks(
        ServiceScope(services.repository),
        provider_name=services.settings.provider,
        provider_health=services.provider_health,
        admission=services.admission,
        worker_running=services.worker_running,
        emulator_url=services.settings.emulator_base_url if services.emulator is not None else None,
    )
    return JSONResponse({"ok": ok, "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics of this process (names prefixed ``pixelmotion_``)."""
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")
