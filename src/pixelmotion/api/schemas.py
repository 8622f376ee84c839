"""The public JSON shapes (camelCase on the wire, as the plan's client reads them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from pixelmotion.jobs import requests as rules
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.pricing import estimated_cost_usd
from pixelmotion.jobs.summary import outputs_of

Model = Literal["ray-2", "ray-flash-2", "ray-1-6"]
Resolution = Literal["540p", "720p", "1080p", "4k"]
AspectRatio = Literal["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"]
Dither = Literal["none", "bayer", "floyd"]
Fit = Literal["crop", "contain", "stretch"]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class UrlSource(CamelModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["url"]
    url: str = Field(min_length=8, max_length=2048, pattern=r"^https?://")


class UploadSource(CamelModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    type: Literal["upload"]
    upload_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class KeyframeSource(CamelModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    upload_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class CreateJobRequest(CamelModel):
    """A prompt for the video model, or (with ``source``) the user's own video to pixelate."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    prompt: str | None = Field(default=None, min_length=rules.PROMPT_MIN, max_length=rules.PROMPT_MAX)
    source: Annotated[UrlSource | UploadSource, Field(discriminator="type")] | None = None
    width: int = Field(ge=rules.SIZE_MIN, le=rules.SIZE_MAX)
    height: int = Field(ge=rules.SIZE_MIN, le=rules.SIZE_MAX)
    color_count: int = Field(ge=rules.COLORS_MIN, le=rules.COLORS_MAX)
    fps: Literal[12, 24, 30]
    duration: Literal[5, 9] = 5
    model: Model = "ray-2"
    resolution: Resolution = "720p"
    aspect_ratio: AspectRatio | None = None
    loop: bool = False
    dither: Dither = "none"
    fit: Fit = "crop"
    project_id: str | None = Field(default=None, max_length=200)
    keyframe: KeyframeSource | None = Field(
        default=None, description="An uploaded image the clip starts from"
    )
    webhook_url: str | None = Field(default=None, max_length=2048, pattern=r"^https?://")
    webhook_events: Literal["terminal", "all"] = "terminal"


class CreateJobResponse(CamelModel):
    job_id: str
    status: str
    estimated_time_seconds: int
    webhook_secret: str | None = Field(
        default=None, description="Signing secret of the job's webhook endpoint"
    )


class PlanCreateResponse(BaseModel):
    success: bool = True
    data: CreateJobResponse


class ErrorBody(BaseModel):
    code: str
    message: str


class JobResponse(CamelModel):
    job_id: str
    status: str
    progress: int
    progress_message: str | None
    estimated_time_seconds: int
    total_frames: int | None
    error: ErrorBody | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    outputs: dict[str, str]
    prompt: str
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
    project_id: str | None
    estimated_cost_usd: float = Field(description="Provider cost at its per-pixel prices (0 for imports)")

    @classmethod
    def of(cls, job: Job, *, estimate: int) -> JobResponse:
        error = ErrorBody(code=job.error_code, message=job.error_message or "") if job.error_code else None
        return cls(
            job_id=job.id,
            status=job.status.value,
            progress=job.progress,
            progress_message=job.progress_message,
            estimated_time_seconds=estimate,
            total_frames=job.total_frames,
            error=error,
            created_at=job.created_at,
            updated_at=job.updated_at,
            completed_at=job.completed_at,
            outputs=outputs_of(job),
            prompt=job.prompt,
            width=job.width,
            height=job.height,
            color_count=job.color_count,
            fps=job.fps,
            duration=job.duration,
            model=job.model,
            resolution=job.resolution,
            aspect_ratio=job.aspect_ratio,
            loop=job.loop,
            dither=job.dither,
            fit=job.fit,
            project_id=job.project_id,
            estimated_cost_usd=0.0
            if job.provider == "import"
            else estimated_cost_usd(job.model, job.resolution, job.aspect_ratio, job.duration),
        )


class JobListResponse(CamelModel):
    jobs: list[JobResponse]
    next_cursor: str | None


def job_json(job: Job, *, estimate: int) -> dict[str, Any]:
    return JobResponse.of(job, estimate=estimate).model_dump(mode="json", by_alias=True)


class UploadResponse(CamelModel):
    upload_id: str
    bytes: int
    kind: Literal["video", "image"]


class WebhookEndpointRequest(CamelModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    url: str = Field(max_length=2048, pattern=r"^https?://")


class WebhookEndpointResponse(CamelModel):
    id: str
    url: str
    secret: str
    disabled: bool
    created_at: datetime


class DeliveryResponse(CamelModel):
    id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
