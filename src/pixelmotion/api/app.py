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
from pixelmotion.api.middleware import BodySizeLimitMiddleware, LoopbackOnly, RequestIdMiddleware
from pixelmotion.api.views import admin, callbacks, events, health, jobs, plan, uploads, web, webhooks
from pixelmotion.bootstrap import Services
from pixelmotion.config import EMULATOR_MOUNT
from pixelmotion.store.database import create_loop_engine
from pixelmotion.worker.tasks import background

logger = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"


def create_app(services: Services, *, run_worker: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        services.hub.bind(asyncio.get_running_loop())
        # PostgreSQL: short requests' round trips await on this loop (api/deps.py run_short).
        loop_engine = create_loop_engine(services.settings.database_url)
        if loop_engine is not None:
            services.repository.db.loop_engine = loop_engine.sync_engine
        if services.emulator is not None:
            await services.emulator.start()
        wired = background(services, run_worker=run_worker, hub=services.hub)
        tasks = [asyncio.create_task(task) for task in wired.tasks]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if services.emulator is not None:
                await services.emulator.stop()
            await services.provider.aclose()
            if loop_engine is not None:
                services.repository.db.loop_engine = None
                await loop_engine.dispose()

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
        # Loopback callers only, and behind its own random key (issue 17): a stand-in for
        # Luma that this host's worker talks to, never a public surface.
        app.mount(EMULATOR_MOUNT, LoopbackOnly(services.emulator.asgi_app()))
    return app
