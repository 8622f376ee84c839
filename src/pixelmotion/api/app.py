"""The FastAPI application: routes, error shape, and the background parts it hosts
(the worker and the emulator in the embedded default)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from pixelmotion.api.docs import install_docs
from pixelmotion.api.errors import install_error_handlers
from pixelmotion.api.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from pixelmotion.api.views import admin, callbacks, events, health, jobs, plan, uploads, web, webhooks
from pixelmotion.bootstrap import Services, delivery_settings, watch_credits_for
from pixelmotion.events import listen_for_events, watch_table
from pixelmotion.webhooks import run_deliverer
from pixelmotion.worker.retention import run_retention

logger = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"


def create_app(services: Services, *, run_worker: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        services.hub.bind(asyncio.get_running_loop())
        background: list[asyncio.Task[None]] = []
        if services.emulator is not None:
            await services.emulator.start()
        repository = services.repository
        worker = None
        if run_worker:
            from pixelmotion.worker.loop import Worker

            worker = Worker(services)
            background.append(asyncio.create_task(worker.run()))
            background.append(
                asyncio.create_task(run_deliverer(repository, delivery_settings(services.settings)))
            )
            background.append(asyncio.create_task(run_retention(services)))
        # Every process reads the balance: its workers hold new jobs back when it runs low,
        # and its /healthz says so.
        background.append(asyncio.create_task(watch_credits_for(services)))
        on_postgres = services.engine.dialect.name == "postgresql"
        if on_postgres:

            def woken(job_id: str, user_id: str, event_id: int) -> None:
                services.hub.wake(job_id, user_id, event_id)
                if worker is not None:
                    worker.nudge()

            listener = listen_for_events(services.settings.database_url, woken, services.hub.wake_all)
            background.append(asyncio.create_task(listener))
        # Events written by other processes: NOTIFY on PostgreSQL (the table scan is a safety
        # net there); on SQLite this scan is how a separate worker's events reach streams.
        background.append(
            asyncio.create_task(
                watch_table(
                    services.hub,
                    lambda after: [
                        (e.job_id, e.user_id, e.id) for e in repository.events.after(after_id=after)
                    ],
                    repository.events.last_id,
                    interval=2.0 if on_postgres else 0.2,
                )
            )
        )
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if services.emulator is not None:
                await services.emulator.stop()
            await services.provider.aclose()

    app = FastAPI(
        title="pixelmotion",
        version="0.1.0",
        description="Prompt or video in, editable pixel-art animation out.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from this app's own files
        redoc_url=None,
    )
    app.state.services = services
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=services.settings.max_request_bytes)
    app.add_middleware(RequestIdMiddleware)
    if services.settings.cors_origins:
        # Editors on other origins embedding /static/pixelmotion.js; bearer tokens, no cookies.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(services.settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
            expose_headers=["Idempotent-Replayed"],
            max_age=600,
        )
    for module in (jobs, uploads, webhooks, events, plan, callbacks, admin, health, web):
        app.include_router(module.router)
    app.mount("/static", web.static_files(), name="static")
    install_docs(app)
    if services.emulator is not None:
        app.mount("/emulator/luma", services.emulator.asgi_app())
    return app
