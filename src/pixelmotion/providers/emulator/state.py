"""The state machine of one generation: queued → dreaming → completed (or failed).

Timing follows the generation's creation time on the wall clock, so a generation resumed
after a restart keeps its schedule (or finishes at once if its time has passed):
- dreaming at 20% of ``dream_seconds`` (the clip renders from then on);
- completed once ``dream_seconds`` have passed *and* the clip exists;
- with the ``fail_generation`` fault, failed at 60% instead (and the charge refunded);
- with ``hold=NAME``, kept dreaming until NAME is released.
Each state change is saved, then announced by callback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx

from .callbacks import Notifier
from .clips import ClipCache, KeyframeUnreadable
from .faults import Holds, strip_directives
from .store import GenerationRecord, GenerationStore
from .validation import FPS

log = logging.getLogger(__name__)

DREAMING_AT = 0.2
FAILING_AT = 0.6
KEYFRAME_FAILURE = "Failed to read user input frames"
GENERIC_FAILURE = "Job failed"


class Lifecycle:
    def __init__(
        self,
        *,
        store: GenerationStore,
        clips: ClipCache,
        notifier: Notifier,
        http: httpx.AsyncClient,
        dream_seconds: float,
        asset_url: Callable[[str], str],
        holds: Holds,
    ) -> None:
        self._store = store
        self._clips = clips
        self._notifier = notifier
        self._http = http
        self._dream_seconds = dream_seconds
        self._asset_url = asset_url
        self._holds = holds

    async def run(self, record: GenerationRecord) -> None:
        """Drive ``record`` to a terminal state (cancelled when it is deleted or at shutdown)."""
        if record.state == "queued":
            await self._sleep_until(record, DREAMING_AT)
            self._move(record, "dreaming")
        hold = record.faults.get("hold")
        if hold is not None:
            await self._holds.wait(hold)
        reason = record.faults.get("fail_generation")
        if reason is not None:
            await self._sleep_until(record, FAILING_AT)
            self._fail(record, reason)
            return
        try:
            await self._render(record)
        except KeyframeUnreadable as error:
            log.info("emulator: generation %s: keyframe unreadable (%s)", record.id, error)
            self._fail(record, KEYFRAME_FAILURE)
            return
        except Exception:
            log.exception("emulator: rendering generation %s failed", record.id)
            self._fail(record, GENERIC_FAILURE)
            return
        await self._sleep_until(record, 1.0)
        record.generation["assets"] = {
            "video": self._asset_url(record.id),
            "image": None,
            "progress_video": None,
        }
        self._move(record, "completed")

    async def _render(self, record: GenerationRecord) -> None:
        await self._clips.ensure(
            record.clip_key,
            strip_directives(record.prompt),
            width=record.width,
            height=record.height,
            fps=FPS,
            seconds=record.seconds,
            keyframe_url=record.keyframe_url,
            http=self._http,
        )

    async def _sleep_until(self, record: GenerationRecord, share: float) -> None:
        due = record.created_ts + share * self._dream_seconds
        await asyncio.sleep(max(0.0, due - time.time()))

    def _move(self, record: GenerationRecord, state: str) -> None:
        record.generation["state"] = state
        self._store.save()
        self._notifier.notify(record.generation, record.callback_url, record.faults)

    def _fail(self, record: GenerationRecord, reason: str) -> None:
        record.generation["failure_reason"] = reason
        # Luma refunds a failed generation.
        self._store.counters.spent_cents -= record.cost_cents
        self._move(record, "failed")
