"""What the worker's steps work with, each named: the store, the provider, the object store,
the render pool, the provider account's admission and health, the settings and a clock. A
test builds these from fakes (an in-memory provider, a fake clock); ``worker/tasks.py``
builds them from the wired services."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

from pixelmotion.config import Settings
from pixelmotion.objects import ObjectStore
from pixelmotion.providers.base import VideoProvider
from pixelmotion.providers.caps import Admission
from pixelmotion.providers.health import ProviderHealth
from pixelmotion.store import Store, utcnow


@dataclass(frozen=True)
class StepPorts:
    store: Store  # the service's: the worker acts on every user's jobs
    provider: VideoProvider
    objects: ObjectStore  # wired as a PatientStore: waits out a short outage (objects/retry.py)
    render_pool: Executor | None  # CPU-heavy rendering; None: the event loop's default threads
    admission: Admission
    provider_health: ProviderHealth
    settings: Settings
    owner: str  # this worker's name on the leases it takes
    clock: Callable[[], datetime] = utcnow
