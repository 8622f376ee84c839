"""Fault injection: the emulator misbehaves on purpose, the ways the real service can.

Two ways to turn a fault on:
- ``EmulatorSettings.faults`` (``PIXELMOTION_EMULATOR_FAULTS``): comma-separated
  ``name=probability``, e.g. ``drop_callbacks=1.0,duplicate_callbacks=0.5,create_429=0.2``;
  each create request, or each new generation, rolls the dice once per fault.
- A directive in the prompt, for a single test, honoured only when
  ``EmulatorSettings.prompt_faults`` (``PIXELMOTION_EMULATOR_PROMPT_FAULTS=1``) is on, since
  any user writes prompts: ``[[fault:NAME]]`` turns NAME on for every
  request carrying that prompt; ``[[fault:NAME*N]]`` only for the first N of them (so
  ``[[fault:create_429*2]]`` refuses two creates, then accepts); ``[[fault:NAME=ARG]]`` passes
  an argument (``[[fault:fail_generation=Job failed]]`` picks the failure reason).

Create faults (decided per create request):
- ``create_429``: 429 with ``Retry-After: 1``; nothing created.
- ``create_500``: 500; nothing created.
- ``create_timeout``: the generation is created and billed, then the answer never comes.

Generation faults (decided once per generation, kept with it):
- ``fail_generation``: ends ``failed`` (with one of Luma's failure reasons) instead of
  ``completed``; the charge is refunded.
- ``drop_callbacks``, ``duplicate_callbacks``, ``reorder_callbacks`` (the terminal callback
  is sent before dreaming's), ``delay_callbacks`` (each held back a few seconds).
- Asset faults, applied when the clip is downloaded: ``slow_asset`` (trickles), ``cut_asset``
  (connection cut midway through a download that starts at byte 0; ranged requests resume
  fine), ``truncated_asset`` (a complete-looking response holding only the first half),
  ``corrupt_asset`` (MP4 header intact, the rest scrambled), ``wrong_content_type`` (an HTML
  page with ``text/html``), ``huge_asset`` (announces and streams far more than any cap).
- ``hold=NAME`` (a directive only): stays ``dreaming`` until ``Emulator.holds.release(NAME)``,
  so a test decides when the account's slot frees instead of hoping a timer is slow enough.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass

CREATE_FAULTS = ("create_429", "create_500", "create_timeout")
CALLBACK_FAULTS = ("drop_callbacks", "duplicate_callbacks", "reorder_callbacks", "delay_callbacks")
ASSET_FAULTS = (
    "slow_asset",
    "cut_asset",
    "truncated_asset",
    "corrupt_asset",
    "wrong_content_type",
    "huge_asset",
)
GENERATION_FAULTS = ("fail_generation", "hold", *CALLBACK_FAULTS, *ASSET_FAULTS)
FAULT_NAMES = frozenset((*CREATE_FAULTS, *GENERATION_FAULTS))

# Luma's documented failure reasons (luma-api.md).
FAILURE_REASONS = (
    "Contains blacklisted words",
    "Failed to read user input frames",
    "Frame moderation failed",
    "Advanced prompt moderation failed",
    "Prompt processing failed",
    "Error dispatching job",
    "Job failed",
)

_DIRECTIVE = re.compile(r"\[\[fault:([a-z0-9_]+)(?:\*(\d+))?(?:=([^\]]*))?\]\]")


@dataclass(frozen=True)
class Directive:
    name: str
    times: int | None  # None: every time
    argument: str


def parse_fault_spec(spec: str) -> dict[str, float]:
    """``"a=0.5, b=1"`` → ``{"a": 0.5, "b": 1.0}``; unknown names and bad numbers are errors."""
    probabilities: dict[str, float] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in FAULT_NAMES:
            raise ValueError(f"unknown emulator fault {name!r}; known: {sorted(FAULT_NAMES)}")
        probability = float(value) if value.strip() else 1.0
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"fault probability for {name} must be between 0 and 1")
        probabilities[name] = probability
    return probabilities


def prompt_directives(prompt: str) -> list[Directive]:
    directives = []
    for match in _DIRECTIVE.finditer(prompt):
        name, times, argument = match.group(1), match.group(2), match.group(3)
        if name in FAULT_NAMES:
            directives.append(Directive(name, int(times) if times else None, argument or ""))
    return directives


def strip_directives(prompt: str) -> str:
    """The prompt without fault directives: what the clip is rendered (and cached) from."""
    return " ".join(_DIRECTIVE.sub(" ", prompt).split())


class FaultInjector:
    """Decides which faults hit a request or a generation."""

    def __init__(
        self, spec: str, rng: random.Random | None = None, *, prompt_directives: bool = False
    ) -> None:
        self.probabilities = parse_fault_spec(spec)
        self.prompt_directives = prompt_directives
        self._rng = rng or random.Random()
        self._directive_uses: Counter[tuple[str, str]] = Counter()

    def create_fault(self, prompt: str) -> str | None:
        """The create fault to inject for this request, if any (at most one)."""
        chosen = self._active(prompt, CREATE_FAULTS)
        return next(iter(chosen), None)

    def generation_faults(self, prompt: str) -> dict[str, str]:
        """Faults for a new generation, each with its argument ("" when it has none)."""
        faults = self._active(prompt, GENERATION_FAULTS)
        if "fail_generation" in faults and faults["fail_generation"] not in FAILURE_REASONS:
            faults["fail_generation"] = self._rng.choice(FAILURE_REASONS)
        return faults

    def _active(self, prompt: str, names: tuple[str, ...]) -> dict[str, str]:
        active: dict[str, str] = {}
        for directive in prompt_directives(prompt) if self.prompt_directives else ():
            if directive.name in names and self._use_directive(prompt, directive):
                active[directive.name] = directive.argument
        for name in names:
            if name not in active and self._rng.random() < self.probabilities.get(name, 0.0):
                active[name] = ""
        return active

    def _use_directive(self, prompt: str, directive: Directive) -> bool:
        key = (directive.name, prompt)
        if directive.times is not None and self._directive_uses[key] >= directive.times:
            return False
        self._directive_uses[key] += 1
        return True


class Holds:
    """The ``hold=NAME`` generations waiting for their release; released from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._released: set[str] = set()
        self._waiting: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def release(self, name: str) -> None:
        with self._lock:
            self._released.add(name)
            waiting = self._waiting.pop(name, [])
        for loop, event in waiting:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, name: str) -> None:
        event = asyncio.Event()
        with self._lock:
            if name in self._released:
                return
            self._waiting.setdefault(name, []).append((asyncio.get_running_loop(), event))
        await event.wait()
