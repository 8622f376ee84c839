"""The operator's use cases (a ``service_role`` caller): any user's job, requeue, usage, and
the provider account's use against its caps. These take the service's store, explicitly."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pixelmotion.app.errors import Conflict, NotFound
from pixelmotion.jobs.caps import ProviderCaps
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.pricing import estimated_cost_usd
from pixelmotion.store import Store, utcnow


@dataclass(frozen=True)
class ServiceScope:
    """The service's own view: every user's rows. Only admin routes and the worker get one."""

    store: Store


def any_job(scope: ServiceScope, job_id: str) -> Job:
    job = scope.store.jobs.get(job_id)
    if job is None:
        raise NotFound("JOB_NOT_FOUND", f"No job {job_id}.")
    return job


def requeue(scope: ServiceScope, job_id: str) -> Job:
    """Make an unfinished job's next step due now (e.g. after fixing the provider key)."""
    job = scope.store.queue.requeue(job_id)
    if job is None:
        raise Conflict("JOB_NOT_ACTIVE", "Only an unfinished job can be requeued.")
    return job


def usage(scope: ServiceScope, days: int) -> tuple[datetime, dict[str, dict[str, Any]]]:
    """Jobs and estimated provider spend per user over the last ``days`` days."""
    since = utcnow() - timedelta(days=days)
    per_user: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"jobs": 0, "byStatus": {}, "estimatedCostUsd": 0.0}
    )
    for row in scope.store.usage.by_user(since):
        entry = per_user[row.user_id]
        entry["jobs"] += 1
        entry["byStatus"][row.status] = entry["byStatus"].get(row.status, 0) + 1
        if row.provider != "import":
            cost = estimated_cost_usd(row.model, row.resolution, row.aspect_ratio, row.duration)
            entry["estimatedCostUsd"] = round(entry["estimatedCostUsd"] + cost, 4)
    return since, dict(per_user)


def provider_caps_check(scope: ServiceScope, caps: ProviderCaps) -> dict[str, Any]:
    """The account's limits and its use; not ok once the day's budget is spent (``/healthz``)."""
    check: dict[str, Any] = {
        "ok": True,
        "maxInFlight": caps.max_in_flight,
        "createsPerMinute": caps.creates_per_minute,
        "dailyBudgetUsd": caps.daily_budget_usd,
    }
    try:
        use = scope.store.queue.provider_usage()
    except Exception as error:  # health reports, never raises
        return {**check, "usage": None, "usageError": type(error).__name__}
    check.update(
        inFlight=use.in_flight, sentLastMinute=use.sent_last_minute, spentTodayUsd=use.spent_today_usd
    )
    if caps.daily_budget_usd is not None and use.spent_today_usd >= caps.daily_budget_usd:
        check.update(ok=False, error="today's budget is spent; new jobs wait in pending until 00:00 UTC")
    return check
