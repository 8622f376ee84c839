"""Fakes for the worker's ports: an in-memory provider (a real ``VideoProvider``: it makes,
lists, answers and deletes generations, all in memory) and a clock a test moves by hand."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pixelmotion.providers.base import Generation, GenerationNotFound, GenerationRequest, ProviderError


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class MemoryProvider:
    """Generations by id, newest last; ``fail_creates`` makes the next creates raise."""

    clock: FakeClock
    name: str = "memory"
    generations: dict[str, Generation] = field(default_factory=dict)
    created: list[GenerationRequest] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    fail_creates: list[ProviderError] = field(default_factory=list)
    balance_cents: float = 10_000.0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, state: str, *, callback_url: str | None = None, reason: str | None = None) -> Generation:
        """A generation the provider has (made by an earlier create, say)."""
        generation = Generation(
            id=f"gen-{next(self._ids)}",
            state=state,
            failure_reason=reason,
            video_url="http://127.0.0.1:9/clip.mp4" if state == "completed" else None,
            callback_url=callback_url,
            created_at=self.clock().isoformat(),
        )
        self.generations[generation.id] = generation
        return generation

    def set_state(self, generation_id: str, state: str, reason: str | None = None) -> None:
        self.generations[generation_id] = replace(
            self.generations[generation_id], state=state, failure_reason=reason
        )

    async def create(self, request: GenerationRequest) -> Generation:
        if self.fail_creates:
            raise self.fail_creates.pop(0)
        self.created.append(request)
        return self.add("queued", callback_url=request.callback_url)

    async def get(self, generation_id: str) -> Generation:
        if generation_id not in self.generations:
            raise GenerationNotFound(f"no generation {generation_id}", status=404)
        return self.generations[generation_id]

    async def list_recent(self, limit: int = 100, offset: int = 0) -> list[Generation]:
        newest_first = list(reversed(self.generations.values()))
        return newest_first[offset : offset + limit]

    async def delete(self, generation_id: str) -> None:
        self.deleted.append(generation_id)
        self.generations.pop(generation_id, None)

    async def credits(self) -> float:
        return self.balance_cents

    async def aclose(self) -> None:
        return None
