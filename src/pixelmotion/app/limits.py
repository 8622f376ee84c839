"""Per-user limits: jobs running at once, jobs an hour, estimated spend a day.

Checked in the transaction that inserts a job, under the user's lock; a refusal says which
limit and when to come back (``retry_after`` seconds), and the API answers 429 with ``Retry-After``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pixelmotion.app.errors import LimitReached
from pixelmotion.jobs.models import JobSpec
from pixelmotion.jobs.pricing import estimated_cost_usd, total_cost_usd
from pixelmotion.store.rows import start_of_day, utcnow
from pixelmotion.store.usage import Gate, UsageWindow, UserUsage


@dataclass(frozen=True)
class UserLimits:
    max_active_jobs: int = 20
    jobs_per_hour: int = 200
    daily_budget_usd: float | None = None  # off unless set


def limits_gate(spec: JobSpec, limits: UserLimits, now: datetime | None = None) -> Gate:
    """The check a new job's insert runs in its own transaction, under the user's lock."""
    now = now or utcnow()
    budgeted = limits.daily_budget_usd is not None and not spec.is_import
    window = UsageWindow(
        since_hour=now - timedelta(hours=1),
        since_day=start_of_day(now) if budgeted else None,
        hour_limit=limits.jobs_per_hour,
        active_limit=limits.max_active_jobs,
    )
    return Gate(window, lambda usage: check_user_limits(usage, spec, limits, now))


def check_user_limits(usage: UserUsage, spec: JobSpec, limits: UserLimits, now: datetime) -> None:
    """Raise ``LimitReached`` if accepting ``spec`` would break one of the user's limits."""
    midnight = start_of_day(now)
    budgeted = limits.daily_budget_usd is not None and not spec.is_import
    if usage.active >= limits.max_active_jobs:
        raise LimitReached(
            "TOO_MANY_ACTIVE_JOBS",
            f"You have {usage.active} jobs in progress; the limit is {limits.max_active_jobs}. "
            "Wait for one to finish.",
            30,
        )
    started = usage.created_last_hour_count
    if started >= limits.jobs_per_hour:
        recent = usage.created_last_hour
        oldest = recent[len(recent) - limits.jobs_per_hour]
        wait = int((oldest + timedelta(hours=1) - now).total_seconds()) + 1
        raise LimitReached(
            "HOURLY_LIMIT",
            f"You have started {started} jobs in the last hour; the limit is {limits.jobs_per_hour}.",
            wait,
        )
    if budgeted and limits.daily_budget_usd is not None:
        spent = total_cost_usd(usage.today)
        cost = estimated_cost_usd(spec.model, spec.resolution, spec.aspect_ratio, spec.duration)
        if spent + cost > limits.daily_budget_usd:
            wait = int((midnight + timedelta(days=1) - now).total_seconds())
            raise LimitReached(
                "DAILY_BUDGET",
                f"This job (about ${cost:.2f}) would take today's spend past your "
                f"${limits.daily_budget_usd:.2f} budget (${spent:.2f} used). It resets at 00:00 UTC.",
                wait,
            )
