"""The emulator: a Luma Dream Machine API stand-in that renders real clips and calls back.

Routes (under the emulator's own root, mounted by the service at ``/emulator/luma``):
- ``/dream-machine/v1/...``: Luma's API as luma-api.md describes it (Bearer auth);
- ``/dream-machine/v1/_stats``: what was billed and called back (no auth, no secrets; not Luma's);
- ``/assets/{generation_id}/{signature}.mp4``: the clips, like a CDN (no auth, Range
  requests); the signature (an HMAC of the id under the API key) makes the name unguessable.

Callbacks and keyframe fetches go through the address guard (media/guard.py), as every
other outbound request does; the service mounts this app for loopback callers only.

A mounted sub-app's lifespan is not run by Starlette, so the background work lives in an
``Emulator`` object whose ``start()`` / ``stop()`` the host app calls from its own lifespan;
``create_emulator_app`` builds a standalone app that does that itself.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pixelmotion.media.guard import AddressGuard, AsyncGuardedTransport

from .assets import asset_response
from .callbacks import CallbackSender, Notifier
from .clips import ClipCache
from .faults import FaultInjector, Holds, strip_directives
from .settings import EmulatorSettings
from .state import Lifecycle
from .store import GenerationRecord, GenerationStore
from .validation import CONCEPTS, FPS, CreateRequest, LumaRequestError, parse_create_request

log = logging.getLogger(__name__)

API_PREFIX = "/dream-machine/v1"
INVALID_KEY = "Invalid API key is provided"
NOT_FOUND = "Generation not found"
# Resale price in US cents per million output pixels (luma-api.md).
CENTS_PER_MEGAPIXEL = {"ray-2": 0.64, "ray-flash-2": 0.22, "ray-1-6": 0.64}


class Emulator:
    """Owns the generations, their background work and the ASGI app that serves them."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.store = GenerationStore(settings.cache_dir / "generations.json")
        self.clips = ClipCache(settings.clip_dir or settings.cache_dir / "clips", settings.render_executor)
        self.faults = FaultInjector(settings.faults, prompt_directives=settings.prompt_faults)
        self.holds = Holds()
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._recent_creates: collections.deque[float] = collections.deque()
        self._hanging: set[asyncio.Event] = set()
        self._http: httpx.AsyncClient | None = None
        self._notifier: Notifier | None = None
        self._lifecycle: Lifecycle | None = None
        self._start_lock = asyncio.Lock()
        self._app: FastAPI | None = None

    # --- lifetime ---------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._lifecycle is not None

    async def start(self) -> None:
        """Load saved generations and resume the unfinished ones. Safe to call twice."""
        async with self._start_lock:
            if self.started:
                return
            self.store.load()
            guard = AddressGuard(settings_hosts(self.settings), self.settings.outbound_prefixes)
            self._http = httpx.AsyncClient(transport=AsyncGuardedTransport(guard))
            self._notifier = Notifier(
                CallbackSender(self._http, self.store.counters),
                self.store.counters,
                self.settings.callback_delay_seconds,
            )
            self._lifecycle = Lifecycle(
                store=self.store,
                clips=self.clips,
                notifier=self._notifier,
                http=self._http,
                dream_seconds=self.settings.dream_seconds,
                asset_url=self.asset_url,
                holds=self.holds,
            )
            for record in self.store.unfinished():
                self._run(record)

    async def stop(self) -> None:
        """Cancel background work, release hung requests, close the HTTP client."""
        async with self._start_lock:
            if not self.started:
                return
            for hanging in self._hanging:
                hanging.set()
            runs = list(self._runs.values())
            for run in runs:
                run.cancel()
            if runs:
                await asyncio.wait(runs)
            assert self._notifier is not None and self._http is not None
            await self._notifier.close()
            await self._http.aclose()
            self.store.flush()
            self._notifier = self._lifecycle = self._http = None

    def asgi_app(self) -> FastAPI:
        """The app serving this emulator (one per emulator); mount it or serve it."""
        if self._app is None:
            self._app = _build_app(self, run_lifespan=False)
        return self._app

    def asset_url(self, generation_id: str) -> str:
        signature = self.asset_signature(generation_id)
        return f"{self.settings.public_base_url.rstrip('/')}/assets/{generation_id}/{signature}.mp4"

    def asset_signature(self, generation_id: str) -> str:
        key = self.settings.api_key.encode()
        return hmac.new(key, f"asset:{generation_id}".encode(), hashlib.sha256).hexdigest()[:32]

    # --- the API's operations ------------------------------------------------------------

    async def create(self, body: Any) -> tuple[dict[str, Any], bool]:
        """Create a generation; returns it and whether the answer must hang (create_timeout)."""
        request = parse_create_request(body)
        fault = self.faults.create_fault(request.prompt)
        if fault is not None:
            self.store.fault_counts[fault] += 1
        if fault == "create_429":
            raise LumaRequestError(429, "Rate limit exceeded", {"Retry-After": "1"})
        if fault == "create_500":
            raise LumaRequestError(500, "Internal server error")
        self._check_account_limits()
        record = self._new_record(request)
        self.store.counters.created += 1
        self.store.counters.spent_cents += record.cost_cents
        for name in record.faults:
            self.store.fault_counts[name] += 1
        self.store.add(record)
        # On disk before the answer, as Luma keeps what it acknowledged (and billed); written
        # in a thread so the loop, shared with the service when embedded, keeps serving.
        await asyncio.to_thread(self.store.flush)
        self._run(record)
        return record.generation, fault == "create_timeout"

    def _check_account_limits(self) -> None:
        """Luma's per-account tier: generations in flight and creates a minute, else 429."""
        limits = self.settings
        now = time.monotonic()
        while self._recent_creates and self._recent_creates[0] <= now - 60:
            self._recent_creates.popleft()
        if limits.max_in_flight is not None and len(self.store.unfinished()) >= limits.max_in_flight:
            self.store.counters.rate_limited += 1
            raise LumaRequestError(429, "Too many concurrent generations", {"Retry-After": "5"})
        if limits.creates_per_minute is not None and len(self._recent_creates) >= limits.creates_per_minute:
            self.store.counters.rate_limited += 1
            wait = int(self._recent_creates[0] + 60 - now) + 1
            raise LumaRequestError(429, "Rate limit exceeded", {"Retry-After": str(wait)})
        self._recent_creates.append(now)

    async def hang(self, request: Request) -> None:
        """Never answer: the create_timeout fault's silent server. Ends when the client gives
        up (so a server shutdown is not held back) or the emulator stops."""
        released = asyncio.Event()
        self._hanging.add(released)
        waits = {
            asyncio.create_task(released.wait()),
            asyncio.create_task(_client_gone(request)),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            self._hanging.discard(released)

    def get(self, generation_id: str) -> dict[str, Any]:
        record = self.store.get(generation_id)
        if record is None:
            raise LumaRequestError(404, NOT_FOUND)
        return record.generation

    def list_generations(self, limit: int, offset: int) -> dict[str, Any]:
        records = self.store.newest_first()
        page = records[offset : offset + limit]
        return {
            "generations": [record.generation for record in page],
            "count": len(page),
            "has_more": offset + len(page) < len(records),
            "limit": limit,
            "offset": offset,
        }

    async def delete(self, generation_id: str) -> None:
        run = self._runs.pop(generation_id, None)
        if run is not None:
            run.cancel()
            await asyncio.wait([run])
        if self.store.remove(generation_id) is None:
            raise LumaRequestError(404, NOT_FOUND)
        self.store.counters.deleted += 1
        self.store.save()
        await asyncio.to_thread(self.store.flush)

    def stats(self) -> dict[str, Any]:
        return {**asdict(self.store.counters), "faults": dict(self.store.fault_counts)}

    def credit_balance(self) -> float:
        return round(self.settings.credit_balance - self.store.counters.spent_cents, 4)

    def asset(self, request: Request, generation_id: str, signature: str) -> Response:
        if not hmac.compare_digest(self.asset_signature(generation_id).encode(), signature.encode()):
            return Response(status_code=404)
        record = self.store.get(generation_id)
        clip = self.clips.path(record.clip_key) if record else None
        if record is None or record.state != "completed" or clip is None or not clip.exists():
            return Response(status_code=404)
        return asset_response(request, clip, record.faults)

    # --- internals -----------------------------------------------------------------------

    def _new_record(self, request: CreateRequest) -> GenerationRecord:
        generation_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        generation = {
            "id": generation_id,
            "generation_type": "video",
            "state": "queued",
            "failure_reason": None,
            "created_at": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "assets": {"video": None, "image": None, "progress_video": None},
            "model": request.model,
            "request": request.echo,
        }
        megapixels = request.width * request.height * FPS * request.seconds / 1e6
        return GenerationRecord(
            generation=generation,
            created_ts=now.timestamp(),
            width=request.width,
            height=request.height,
            seconds=request.seconds,
            clip_key=self.clips.key(
                strip_directives(request.prompt),
                request.width,
                request.height,
                FPS,
                request.seconds,
                request.keyframe_image_url,
            ),
            cost_cents=round(megapixels * CENTS_PER_MEGAPIXEL[request.model], 4),
            faults=self.faults.generation_faults(request.prompt),
            keyframe_url=request.keyframe_image_url,
        )

    def _run(self, record: GenerationRecord) -> None:
        assert self._lifecycle is not None
        task = asyncio.create_task(self._lifecycle.run(record), name=f"emulator-{record.id}")
        self._runs[record.id] = task
        task.add_done_callback(lambda done: self._finished(record.id, done))

    def _finished(self, generation_id: str, task: asyncio.Task[None]) -> None:
        if self._runs.get(generation_id) is task:
            del self._runs[generation_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("emulator: generation %s crashed", generation_id, exc_info=task.exception())


async def _client_gone(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def settings_hosts(settings: EmulatorSettings) -> frozenset[str]:
    return frozenset(host.strip().lower() for host in settings.outbound_hosts if host.strip())


def create_emulator_app(settings: EmulatorSettings) -> FastAPI:
    """A standalone emulator app whose own lifespan starts and stops the emulator."""
    return _build_app(Emulator(settings), run_lifespan=True)


# --- HTTP -------------------------------------------------------------------------------


def _build_app(emulator: Emulator, *, run_lifespan: bool) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_lifespan:
            await emulator.start()
        try:
            yield
        finally:
            if run_lifespan:
                await emulator.stop()

    app = FastAPI(
        title="Luma Dream Machine emulator",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.emulator = emulator
    _install_error_bodies(app)
    app.include_router(_api_router(emulator), prefix=API_PREFIX)

    @app.api_route("/assets/{generation_id}/{signature}.mp4", methods=["GET", "HEAD"])
    async def asset(request: Request, generation_id: str, signature: str) -> Response:
        return emulator.asset(request, generation_id, signature)

    return app


def _install_error_bodies(app: FastAPI) -> None:
    """Every error is ``{"detail": "<message>"}``, as Luma answers."""

    @app.exception_handler(LumaRequestError)
    async def luma_error(_: Request, error: LumaRequestError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, error.status, headers=error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(error.detail)}, error.status_code, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}"}, 422)


def _api_router(emulator: Emulator) -> APIRouter:
    async def authorized(request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        valid = scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), emulator.settings.api_key.encode()
        )
        if not valid:
            raise LumaRequestError(401, INVALID_KEY)
        if not emulator.started:
            # A mounted emulator whose host forgot start() still works (minus a clean stop).
            await emulator.start()

    open_router = APIRouter()  # counters only, no secret; the service lets local callers alone in
    router = APIRouter(dependencies=[Depends(authorized)])

    @open_router.get("/_stats")
    async def stats() -> JSONResponse:
        return JSONResponse(emulator.stats())

    async def create(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            raise LumaRequestError(422, "body: JSON decode error") from None
        generation, hang = await emulator.create(body)
        if hang:
            await emulator.hang(request)
        return JSONResponse(generation, status_code=201)

    router.add_api_route("/generations/video", create, methods=["POST"])
    router.add_api_route("/generations", create, methods=["POST"])

    @router.get("/generations")
    async def list_generations(
        limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)
    ) -> JSONResponse:
        return JSONResponse(emulator.list_generations(limit, offset))  # Luma's default limit: 100

    @router.get("/generations/concepts/list")
    async def list_concepts() -> JSONResponse:
        return JSONResponse(list(CONCEPTS))

    @router.get("/generations/{generation_id}")
    async def get_generation(generation_id: str) -> JSONResponse:
        return JSONResponse(emulator.get(generation_id))

    @router.delete("/generations/{generation_id}", status_code=204)
    async def delete_generation(generation_id: str) -> Response:
        await emulator.delete(generation_id)
        return Response(status_code=204)

    @router.get("/ping")
    async def ping() -> JSONResponse:
        return JSONResponse({"message": "pong"})

    @router.get("/credits")
    async def credits() -> JSONResponse:
        return JSONResponse({"credit_balance": emulator.credit_balance()})

    combined = APIRouter()
    combined.include_router(open_router)
    combined.include_router(router)
    return combined
