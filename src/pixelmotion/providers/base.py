"""The contract every video provider meets: Luma through its SDK, or our emulator.

The worker only ever talks to a ``VideoProvider``; callbacks and polls both end up as a
``Generation`` so one code path applies whatever the provider tells us.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

GENERATION_STATES = ("queued", "dreaming", "completed", "failed")


@dataclass(frozen=True)
class GenerationRequest:
    """What we ask the model for; field names follow Luma's create request."""

    prompt: str
    model: str = "ray-2"
    resolution: str = "720p"
    duration: str = "5s"
    aspect_ratio: str = "16:9"
    loop: bool = False
    callback_url: str | None = None
    keyframe_url: str | None = None
    # Luma's concept keys (camera moves such as "static"), sent as [{"key": ...}].
    concepts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Generation:
    """A provider's view of one generation (Luma's Generation object, the parts we use)."""

    id: str
    state: str
    failure_reason: str | None = None
    video_url: str | None = None
    callback_url: str | None = None
    created_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class ProviderError(Exception):
    """A provider call that did not succeed.

    ``retryable``: worth trying again later (408/409/429/5xx, connection errors).
    ``ambiguous``: the request may have reached the provider and been billed (a timeout
    after sending), so look for the generation before creating again.
    ``auth``: our API key is wrong (401/403); nothing will work until it is fixed.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        ambiguous: bool = False,
        auth: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.ambiguous = ambiguous
        self.auth = auth
        self.retry_after = retry_after


class GenerationNotFound(ProviderError):
    """The provider does not know this generation (404)."""


class VideoProvider(Protocol):
    name: str

    async def create(self, request: GenerationRequest) -> Generation: ...

    async def get(self, generation_id: str) -> Generation: ...

    async def list_recent(self, limit: int = 100, offset: int = 0) -> list[Generation]:
        """Newest first; ``offset`` pages back."""
        ...

    async def delete(self, generation_id: str) -> None: ...

    async def credits(self) -> float:
        """The account's credit balance in USD cents."""
        ...

    async def aclose(self) -> None: ...


def parse_generation(payload: dict[str, Any]) -> Generation:
    """Read a Generation object as Luma sends it (create/get answers and callbacks)."""
    if not isinstance(payload, dict):
        raise ValueError("generation must be a JSON object")
    generation_id = payload.get("id")
    state = payload.get("state")
    if not isinstance(generation_id, str) or not generation_id:
        raise ValueError("generation has no id")
    if state not in GENERATION_STATES:
        raise ValueError(f"unknown generation state: {state!r}")
    assets = payload.get("assets") or {}
    request = payload.get("request") or {}
    video = assets.get("video") if isinstance(assets, dict) else None
    callback = request.get("callback_url") if isinstance(request, dict) else None
    created = payload.get("created_at")
    reason = payload.get("failure_reason")
    return Generation(
        id=generation_id,
        state=state,
        failure_reason=reason if isinstance(reason, str) else None,
        video_url=video if isinstance(video, str) else None,
        callback_url=callback if isinstance(callback, str) else None,
        created_at=str(created) if created is not None else None,
        raw=payload,
    )
