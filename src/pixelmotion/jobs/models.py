"""The job as the rest of the code sees it: a plain, immutable record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pixelmotion.jobs.states import JobStatus


@dataclass(frozen=True)
class JobSpec:
    """What a user asked for, validated (see ``jobs.requests``)."""

    prompt: str
    width: int
    height: int
    color_count: int
    fps: int
    duration: int = 5
    model: str = "ray-2"
    resolution: str = "720p"
    aspect_ratio: str = "16:9"
    loop: bool = False
    dither: str = "none"
    fit: str = "crop"
    project_id: str | None = None
    provider_prompt: str = ""
    # A user's own video instead of a generation: a URL to fetch, or an uploaded object.
    source_url: str | None = None
    source_object_key: str | None = None
    # Where to POST this job's changes (an endpoint of the user's), and which: terminal / all.
    webhook_endpoint_id: str | None = None
    webhook_events: str | None = None
    # An uploaded image the generated clip starts from (animating the user's sprite).
    keyframe_object_key: str | None = None
    # The canvas choices of issues 13/14: a fixed palette (#rrggbb list), the background,
    # the loop mode (``loop`` above is Luma's own flag: loop_mode != "none", prompts only).
    palette: tuple[str, ...] | None = None
    background: str = "keep"
    key_color: str | None = None
    loop_mode: str = "none"
    # A re-render: the job whose paid clip this one pixelates again (no provider call).
    parent_job_id: str | None = None

    @property
    def is_import(self) -> bool:
        return self.source_url is not None or self.source_object_key is not None

    @property
    def frame_count(self) -> int:
        return self.fps * self.duration


@dataclass(frozen=True)
class Job:
    id: str
    user_id: str
    status: JobStatus
    progress: int
    progress_message: str | None
    prompt: str
    provider_prompt: str
    width: int
    height: int
    color_count: int
    fps: int
    duration: int
    model: str
    resolution: str
    aspect_ratio: str
    loop: bool
    dither: str
    fit: str
    provider: str
    created_at: datetime
    updated_at: datetime
    project_id: str | None = None
    luma_generation_id: str | None = None
    luma_video_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_details: dict[str, Any] | None = None
    total_frames: int | None = None
    frame_storage_urls: dict[str, str] | None = None
    frame_data: dict[str, Any] | None = None
    processing_time_ms: int | None = None
    luma_processing_time_ms: int | None = None
    frame_processing_time_ms: int | None = None
    completed_at: datetime | None = None
    submitted_at: datetime | None = None
    source_object_key: str | None = None
    attempts: int = 0
    resubmits: int = 0
    webhook_endpoint_id: str | None = None
    webhook_events: str | None = None
    keyframe_object_key: str | None = None
    next_run_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    retried_at: datetime | None = None  # the last POST /retry: a new attempt, a new deadline
    palette: list[str] | None = None  # the request's fixed palette, #rrggbb
    background: str = "keep"
    key_color: str | None = None
    loop_mode: str = "none"
    parent_job_id: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def attempt_started_at(self) -> datetime:
        """When the current attempt began (the deadline counts from it)."""
        return self.retried_at or self.created_at


@dataclass(frozen=True)
class JobEvent:
    id: int
    job_id: str
    user_id: str
    status: JobStatus
    progress: int
    message: str | None
    created_at: datetime
