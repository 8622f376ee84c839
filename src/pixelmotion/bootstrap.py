"""Wiring: settings in, ready services out. The one place that picks implementations."""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from pixelmotion.app.estimate import Estimator
from pixelmotion.app.streams import UserStreams
from pixelmotion.config import Settings, own_url_prefix
from pixelmotion.datadir import create_private_dir, create_private_file, tighten
from pixelmotion.events import EventHub
from pixelmotion.jobs.caps import ProviderCaps
from pixelmotion.media.guard import AddressGuard
from pixelmotion.metrics import MeasuredProvider, Metrics
from pixelmotion.objects import ObjectStore, open_store
from pixelmotion.providers.base import VideoProvider
from pixelmotion.providers.caps import Admission, CreditGuard, watch_credits
from pixelmotion.providers.health import ProviderHealth
from pixelmotion.providers.luma import LumaProvider
from pixelmotion.security import TokenVerifier
from pixelmotion.store import Store, create_engine, migrate
from pixelmotion.store.line import finish_line_reads
from pixelmotion.webhooks import DeliverySettings
from pixelmotion.webhooks.schedule import parse_schedule


@dataclass
class Services:
    settings: Settings
    engine: Engine
    repository: Store
    store: ObjectStore
    provider: VideoProvider
    hub: EventHub
    estimator: Estimator
    provider_health: ProviderHealth
    admission: Admission
    executor: Executor
    streams: UserStreams  # the open event streams of each user: their cap and shared reads
    token_verifier: TokenVerifier | None = None
    metrics: Metrics = field(default_factory=Metrics)
    emulator: Any = None  # the embedded Luma emulator, when the provider is "emulator"
    worker_running: bool = False
    instance_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        finish_line_reads(self.engine)
        self.engine.dispose()


def make_executor(settings: Settings) -> Executor:
    """CPU-heavy work (rendering, decoding, pixelating) runs here, off the event loop.

    ``spawn`` because forking a process that already runs threads (the server's) is unsafe.
    """
    return ProcessPoolExecutor(
        max_workers=settings.process_workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_pool_process,
        initargs=(os.getpid(),),
    )


def start_pool_process(parent_pid: int) -> None:
    """Each process of the pool: a batch process (the kernel never lets its wake-ups preempt
    the API's threads, so a render does not delay an answer), and gone once its parent is.

    Batch, not niced: a niced pool yields to every process on the machine, not only to our
    API, so any CPU-heavy neighbour starved it (a 0.5 s re-render took 5 s beside two CPU
    hogs). A pool process waits for work on a pipe its parent may never close: a parent
    killed (SIGKILL), or stopped in any other way that skips shutting the pool down, would
    leave it running for ever, holding its memory."""
    if hasattr(os, "SCHED_BATCH"):  # Linux; elsewhere the default policy
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


PARENT_CHECK_SECONDS = 1.0


def make_store(settings: Settings) -> ObjectStore:
    """Where results, paid clips and uploads live: a directory, or an S3-compatible bucket."""
    return open_store(
        settings.storage_url,
        endpoint_url=settings.s3_endpoint_url or None,
        region=settings.s3_region or None,
        access_key_id=settings.s3_access_key_id or None,
        secret_access_key=settings.s3_secret_access_key or None,
        public_url=settings.s3_public_url or None,
    )


def make_provider(settings: Settings) -> VideoProvider:
    timeout = settings.provider_timeout_seconds
    if settings.provider == "luma":
        return LumaProvider(
            api_key=settings.luma_api_key, base_url=settings.luma_base_url or None, timeout=timeout
        )
    base_url = settings.luma_base_url or settings.emulator_base_url
    return LumaProvider(
        api_key=settings.emulator_api_key, base_url=base_url, timeout=timeout, name="emulator"
    )


def emulator_settings(settings: Settings, public_base_url: str, executor: Executor | None = None) -> Any:
    """The emulator's settings, embedded or standalone, from the same PIXELMOTION_* values."""
    from pixelmotion.providers.emulator import EmulatorSettings

    return EmulatorSettings(
        api_key=settings.emulator_api_key,
        dream_seconds=settings.emulator_dream_seconds,
        cache_dir=settings.data_dir / "emulator",
        clip_dir=settings.emulator_clip_dir,
        public_base_url=public_base_url,
        render_executor=executor,
        faults=settings.emulator_faults,
        prompt_faults=settings.emulator_prompt_faults,
        # Loopback only for our own callback and keyframe paths, on PUBLIC_URL's port.
        outbound_hosts=settings.emulator_allowed_hosts,
        outbound_prefixes=frozenset(
            own_url_prefix(settings.public_url, path) for path in ("/v1/callbacks/luma/", "/v1/keyframes/")
        ),
        max_in_flight=settings.emulator_max_in_flight,
        creates_per_minute=settings.emulator_creates_per_minute,
        credit_balance=settings.emulator_credit_cents,
    )


def make_emulator(settings: Settings, executor: Executor) -> Any:
    from pixelmotion.providers.emulator import Emulator

    return Emulator(emulator_settings(settings, settings.emulator_root_url, executor))


def make_admission(settings: Settings) -> Admission:
    caps = ProviderCaps(
        max_in_flight=settings.provider_max_in_flight,
        creates_per_minute=settings.provider_creates_per_minute,
        daily_budget_usd=settings.daily_budget_usd,
    )
    return Admission(caps, CreditGuard(settings.min_credit_cents))


def bootstrap(settings: Settings, *, run_migrations: bool = True, embed_emulator: bool = True) -> Services:
    """Build every service; ``embed_emulator=False`` for a worker-only process."""
    create_private_dir(settings.data_dir)
    if settings.database_file is not None:
        create_private_file(settings.database_file)  # before SQLite makes it 0644
    engine = create_engine(settings.database_url)
    if run_migrations:
        migrate(engine, lock_dir=settings.data_dir)
    tighten(settings.data_dir, settings.database_file)
    repository = Store(engine)
    hub = EventHub()
    repository.add_listener(hub.publish)
    executor = make_executor(settings)
    metrics = Metrics()
    streams = UserStreams(hub, settings.max_streams_per_user)
    metrics.watch(repository, streams.total)
    embedded = embed_emulator and settings.provider == "emulator" and not settings.luma_base_url
    return Services(
        settings=settings,
        engine=engine,
        repository=repository,
        store=make_store(settings),
        provider=MeasuredProvider(make_provider(settings), metrics),
        metrics=metrics,
        token_verifier=TokenVerifier(
            secret=settings.jwt_secret, audience=settings.jwt_audience, jwks_url=settings.jwks_url or None
        ),
        hub=hub,
        streams=streams,
        estimator=Estimator(repository),
        provider_health=ProviderHealth(),
        admission=make_admission(settings),
        executor=executor,
        emulator=make_emulator(settings, executor) if embedded else None,
    )


def asset_guard(settings: Settings) -> AddressGuard:
    """The SSRF guard of clip downloads and imports: public addresses, the hosts allowed by
    PIXELMOTION_ALLOWED_ASSET_HOSTS, and the embedded emulator's asset path on our address."""
    return AddressGuard(settings.allowed_asset_hosts, settings.allowed_asset_prefixes)


def delivery_settings(settings: Settings) -> DeliverySettings:
    """How webhooks out are sent: the SSRF guard, the retry schedule, the timeout."""
    return DeliverySettings(
        guard=AddressGuard(settings.allowed_webhook_hosts),
        schedule=parse_schedule(settings.webhook_retry_schedule),
        timeout_seconds=settings.webhook_timeout_seconds,
    )


async def watch_credits_for(services: Services) -> None:
    """Read the provider's credit balance into the admission's guard, every so often."""
    await watch_credits(services.provider, services.admission.credits, services.settings.credit_check_seconds)
