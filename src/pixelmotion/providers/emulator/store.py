"""The emulator's generations: in memory, and in a JSON file so a restart keeps them.

Every change rewrites the file (to a temporary name, then renamed): the emulator holds a few
hundred generations at most, and a file that is always whole is worth more than speed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TERMINAL_STATES = frozenset({"completed", "failed"})


@dataclass
class GenerationRecord:
    """One generation: Luma's Generation object as served, plus what the emulator needs."""

    generation: dict[str, Any]
    created_ts: float  # wall clock (time.time()), so timing survives a restart
    width: int
    height: int
    seconds: int
    clip_key: str
    cost_cents: float
    faults: dict[str, str] = field(default_factory=dict)
    keyframe_url: str | None = None

    @property
    def id(self) -> str:
        return str(self.generation["id"])

    @property
    def state(self) -> str:
        return str(self.generation["state"])

    @property
    def callback_url(self) -> str | None:
        url = self.generation["request"].get("callback_url")
        return url if isinstance(url, str) else None

    @property
    def prompt(self) -> str:
        return str(self.generation["request"].get("prompt") or "")


@dataclass
class Counters:
    """What tests and the fault bench assert on; ``created`` counts every billed generation."""

    created: int = 0
    deleted: int = 0
    callbacks_sent: int = 0  # callbacks handed to delivery (duplicates count twice)
    callbacks_dropped: int = 0  # callbacks the drop_callbacks fault swallowed
    callbacks_delivered: int = 0  # answered 200
    callbacks_failed: int = 0  # no 200 after every retry
    callback_requests: int = 0  # HTTP requests made, retries included
    spent_cents: float = 0.0  # charged at create, refunded on failure
    rate_limited: int = 0  # creates refused with 429 for the account's limits


SAVE_DELAY_SECONDS = 0.25


class GenerationStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.counters = Counters()
        self._records: dict[str, GenerationRecord] = {}
        self.fault_counts: Counter[str] = Counter()
        self._dirty = False
        self._lock = threading.Lock()
        self._pending: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Future[None] | None = None

    def load(self) -> None:
        if not self.path.exists():
            return
        with contextlib.suppress(OSError):  # it holds callback URLs with their tokens
            self.path.chmod(0o600)
        try:
            data = json.loads(self.path.read_text("utf-8"))
            self.counters = Counters(**data.get("counters", {}))
            self.fault_counts = Counter(data.get("faults", {}))
            records = [GenerationRecord(**item) for item in data.get("generations", [])]
        except (OSError, ValueError, TypeError) as error:
            # A store we cannot read must not stop the emulator; start afresh, but say so.
            log.warning("emulator: ignoring unreadable %s (%s)", self.path, error)
            return
        self._records = {record.id: record for record in records}

    def save(self) -> None:
        """Mark the store changed. On an event loop the write happens a moment later, once
        for a burst of changes and in a thread: rewriting the whole file on the loop at every
        change made the embedded emulator slow down the API it shares the loop with."""
        self._dirty = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if self._pending is None:
            self._pending = loop.call_later(SAVE_DELAY_SECONDS, self._flush_soon)

    def _flush_soon(self) -> None:
        self._pending = None
        self._flushing = asyncio.ensure_future(asyncio.to_thread(self.flush))

    def flush(self) -> None:
        """Write the store now, if it changed since the last write."""
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = {
            "counters": asdict(self.counters),
            "faults": dict(self.fault_counts),
            "generations": [asdict(record) for record in list(self._records.values())],
        }
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        # 0600 from the start: callback URLs in it carry their tokens.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)  # an older temporary file kept its mode
            handle.write(json.dumps(data, separators=(",", ":")))
        os.replace(temporary, self.path)

    def add(self, record: GenerationRecord) -> None:
        self._records[record.id] = record
        self.save()

    def get(self, generation_id: str) -> GenerationRecord | None:
        return self._records.get(generation_id)

    def remove(self, generation_id: str) -> GenerationRecord | None:
        record = self._records.pop(generation_id, None)
        self.save()
        return record

    def newest_first(self) -> list[GenerationRecord]:
        return sorted(self._records.values(), key=lambda record: record.created_ts, reverse=True)

    def unfinished(self) -> list[GenerationRecord]:
        return [record for record in self._records.values() if record.state not in TERMINAL_STATES]
