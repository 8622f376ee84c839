"""``/healthz``'s checks: is the database reachable, is the provider usable, is its account
within its caps, is a worker running. A report never raises."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pixelmotion.app.admin import ServiceScope, provider_caps_check
from pixelmotion.providers.caps import Admission
from pixelmotion.providers.health import ProviderHealth
from pixelmotion.store.database import is_database_outage


def health_checks(
    scope: ServiceScope,
    *,
    provider_name: str,
    provider_health: ProviderHealth,
    admission: Admission,
    worker_running: bool,
    emulator_url: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """(all ok, each check)."""
    checks: dict[str, Any] = {"database": database_check(scope)}
    checks["provider"] = {"name": provider_name, **provider_health.snapshot()}
    if emulator_url is not None:  # where this host's worker reaches it (loopback only)
        checks["provider"]["emulatorUrl"] = emulator_url
    checks["credits"] = admission.credits.snapshot()
    checks["providerCaps"] = provider_caps_check(scope, admission.caps)
    checks["worker"] = {"running": worker_running}
    return all(bool(check.get("ok", True)) for check in checks.values()), checks


def database_check(scope: ServiceScope) -> dict[str, Any]:
    engine = scope.store.engine
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as error:  # health reports, never raises
        reason = "database unavailable" if is_database_outage(error) else "database error"
        return {"ok": False, "error": reason, "exception": type(error).__name__}
    return {"ok": True, "dialect": engine.dialect.name}
