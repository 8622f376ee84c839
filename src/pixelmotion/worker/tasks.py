"""The one place that wires the background tasks: the worker loop, the webhook deliverer,
retention, the credit watch, and the wake-ups (PostgreSQL's LISTEN, the event table scan).
``serve`` runs them in its lifespan (``api/app.py``), ``worker`` on their own (``cli.py``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from pixelmotion.bootstrap import Services, delivery_settings, watch_credits_for
from pixelmotion.events import EventHub, listen_for_events, watch_table
from pixelmotion.objects import PatientStore
from pixelmotion.webhooks import run_deliverer
from pixelmotion.worker.loop import Worker
from pixelmotion.worker.ports import StepPorts
from pixelmotion.worker.retention import run_retention, run_upload_expiry


def step_ports(services: Services) -> StepPorts:
    return StepPorts(
        store=services.repository,
        provider=services.provider,
        # The worker waits out a short object store outage rather than render again.
        objects=PatientStore(services.store),
        render_pool=services.executor,
        admission=services.admission,
        provider_health=services.provider_health,
        settings=services.settings,
        owner=services.instance_id,
    )


def make_worker(services: Services) -> Worker:
    def running(value: bool) -> None:
        services.worker_running = value

    return Worker(step_ports(services), metrics=services.metrics, on_running=running)


@dataclass
class Background:
    tasks: list[Coroutine[Any, Any, None]] = field(default_factory=list)
    worker: Worker | None = None


def background(services: Services, *, run_worker: bool, hub: EventHub | None = None) -> Background:
    """The coroutines to run beside the API (``hub``: its streams are woken) or alone."""
    found = Background()
    if run_worker:
        found.worker = make_worker(services)
        found.tasks += [
            found.worker.run(),
            run_deliverer(services.repository, delivery_settings(services.settings)),
            run_retention(services),
            run_upload_expiry(services),  # retention on or off
        ]
    # Every process reads the balance: its workers hold new jobs back when it runs low, and
    # its /healthz says so.
    found.tasks.append(watch_credits_for(services))
    on_postgres = services.engine.dialect.name == "postgresql"
    if on_postgres and (hub is not None or found.worker is not None):
        # Jobs created or moved by other processes wake this one's streams and worker at once.
        woken = wake(hub, found.worker)
        on_reconnect = hub.wake_all if hub is not None else None
        found.tasks.append(listen_for_events(services.settings.database_url, woken, on_reconnect))
    if hub is not None:
        # Events written by other processes: NOTIFY on PostgreSQL (the table scan is a safety
        # net there); on SQLite this scan is how a separate worker's events reach streams.
        events = services.repository.events
        found.tasks.append(
            watch_table(
                hub,
                lambda after: [(e.job_id, e.user_id, e.id) for e in events.after(after_id=after)],
                events.last_id,
                interval=2.0 if on_postgres else 0.2,
            )
        )
    return found


def wake(hub: EventHub | None, worker: Worker | None) -> Callable[[str, str, int], None]:
    def woken(job_id: str, user_id: str, event_id: int) -> None:
        if hub is not None:
            hub.wake(job_id, user_id, event_id)
        if worker is not None:
            worker.nudge()

    return woken
