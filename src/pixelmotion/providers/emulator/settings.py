"""Settings of the Luma emulator."""

from __future__ import annotations

import concurrent.futures
import secrets
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class EmulatorSettings:
    """How the emulator behaves.

    ``public_base_url`` is where the emulator's ASGI app is reachable from outside (asset URLs
    are built from it): ``http://127.0.0.1:8000/emulator/luma`` when mounted under the main
    app, ``http://127.0.0.1:PORT`` when standalone. ``cache_dir`` holds rendered clips (one per
    prompt, size and duration) and ``generations.json``, so a restart keeps its generations.
    """

    # No well-known default: a key nobody else holds (the service keeps one per data dir).
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    dream_seconds: float = 5.0
    cache_dir: Path = field(default_factory=lambda: Path("var/emulator"))
    # Where rendered clips go (default: cache_dir/clips); several emulators may share one.
    clip_dir: Path | None = None
    public_base_url: str = "http://127.0.0.1:8000/emulator/luma"
    render_executor: concurrent.futures.Executor | None = None
    # Fault injection, e.g. "drop_callbacks=1.0,create_429=0.2"; see faults.py.
    faults: str = ""
    # Honour ``[[fault:...]]`` directives in prompts: for tests only (any user writes prompts).
    prompt_faults: bool = False
    # Where callbacks may go and keyframes come from besides public addresses (the address
    # guard's allowed hosts and URL prefixes): the service's own callback and keyframe paths.
    outbound_hosts: frozenset[str] = frozenset()
    outbound_prefixes: frozenset[str] = frozenset()
    # The account's limits (luma-api.md: 10 in flight, 20 creates a minute; past them, 429).
    # None: not enforced, so local runs and tests are not slowed by a real account's tier.
    max_in_flight: int | None = None
    creates_per_minute: int | None = None
    # Starting balance of GET /credits, in USD cents.
    credit_balance: float = 100_000.0
    # How long the delay_callbacks fault holds each callback back.
    callback_delay_seconds: float = 3.0
