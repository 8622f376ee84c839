"""``/healthz``: is the database reachable, is the provider usable, is a worker running."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from pixelmotion.api.deps import ServicesDep
from pixelmotion.bootstrap import Services

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        with services.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = {"ok": True, "dialect": services.engine.dialect.name}
    except Exception as error:  # health reports, never raises
        checks["database"] = {"ok": False, "error": type(error).__name__}
    checks["provider"] = {"name": services.settings.provider, **services.provider_health.snapshot()}
    checks["credits"] = services.admission.credits.snapshot()
    checks["providerCaps"] = provider_caps_check(services)
    checks["worker"] = {"running": services.worker_running}
    ok = all(bool(check.get("ok", True)) for check in checks.values())
    return JSONResponse({"ok": ok, "checks": checks}, status_code=200 if ok else 503)


def provider_caps_check(services: Services) -> dict[str, Any]:
    """The account's limits and its use; not ok once the day's budget is spent."""
    caps = services.admission.caps
    check: dict[str, Any] = {
        "ok": True,
        "maxInFlight": caps.max_in_flight,
        "createsPerMinute": caps.creates_per_minute,
        "dailyBudgetUsd": caps.daily_budget_usd,
    }
    try:
        usage = services.repository.queue.provider_usage()
        check.update(
            inFlight=usage.in_flight,
            sentLastMinute=usage.sent_last_minute,
            spentTodayUsd=usage.spent_today_usd,
        )
    except Exception as error:  # health reports, never raises
        return {**check, "usage": None, "usageError": type(error).__name__}
    if caps.daily_budget_usd is not None and check["spentTodayUsd"] >= caps.daily_budget_usd:
        check.update(ok=False, error="today's budget is spent; new jobs wait in pending until 00:00 UTC")
    return check


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics of this process (names prefixed ``pixelmotion_``)."""
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")
