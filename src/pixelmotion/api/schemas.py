"""The public JSON shapes (camelCase on the wire, as the plan's client reads them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from pixelmotion.api.examples import EXAMPLE_FAILED_JOB, EXAMPLE_JOB, EXAMPLE_JOB_ID, EXAMPLE_UPLOAD_ID
from pixelmotion.jobs import requests as rules
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.options import (
    AspectRatio,
    Background,
    Dither,
    Duration,
    Fit,
    Fps,
    LoopMode,
    Model,
    Resolution,
)
from pixelmotion.jobs.pricing import estimated_cost_usd
from pixelmotion.jobs.summary import outputs_of
from pixelmotion.urls import url_problem

# Text we store: PostgreSQL's text and JSONB cannot hold NUL (0x00), so it is refused (422) on
# both databases alike rather than failing the insert.
NO_NUL = r"^[^\x00]*$"
HTTP_URL = r"^https?://[^\x00]*$"
HEX_COLOR = r"^#[0-9a-fA-F]{6}$"
JOB_ID = r"^[0-9a-fA-F-]{32,36}$"


def _fetchable(url: str) -> str:
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(f"the URL {problem}")
    return url


FetchableUrl = Annotated[str, AfterValidator(_fetchable)]


class CamelModel(BaseModel):
    # Pydantic merges a subclass's model_config over this one: subclasses name only what they add.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class UrlSource(CamelModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"type": "url", "url": "https://example.com/clips/walk.mp4"}]},
    )

    type: Literal["url"]
    url: FetchableUrl = Field(min_length=8, max_length=2048, pattern=HTTP_URL)


class UploadSource(CamelModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"type": "upload", "uploadId": EXAMPLE_UPLOAD_ID}]},
    )

    type: Literal["upload"]
    upload_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class KeyframeSource(CamelModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"uploadId": EXAMPLE_UPLOAD_ID}]},
    )

    upload_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class PaletteFileBody(CamelModel):
    """A palette file (.gpl, .hex, .pal or a .png of swatches), base64, at most 64 KiB decoded."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"file": "R0lNUCBQYWxldHRlCjAgMCAwCjI1NSAyNTUgMjU1Cg==", "filename": "mine.gpl"}]
        },
    )

    file: str = Field(max_length=100_000)
    filename: str | None = Field(default=None, max_length=255, pattern=NO_NUL)


PaletteBody = str | list[str] | PaletteFileBody


class CanvasOptions(CamelModel):
    """The canvas options: what a re-render may change. Their rules between each other are
    in ``jobs/requests.py`` (``canvas_errors``)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    palette: PaletteBody | None = Field(
        default=None,
        description="A preset name, hex colours ('#000000,#ffffff' or a list), or a palette file; "
        "sets colorCount to its size (the palette wins over colorCount)",
    )
    palette_from: str | None = Field(
        default=None, pattern=JOB_ID, description="Use the palette of an earlier completed job of yours"
    )
    background: Background = "keep"
    key_color: str | None = Field(
        default=None, pattern=HEX_COLOR, description='The key colour to remove (background "remove")'
    )
    loop: LoopMode | bool = Field(
        default="none", description="none, trim or pingpong (true reads as trim, false as none)"
    )


class RenderRequest(CanvasOptions):
    """A re-render of a job's stored clip: any canvas option; the ones left out keep the
    parent's values (``"palette": null`` goes back to colours chosen from the clip)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={"examples": [{"width": 32, "height": 32, "palette": "pico8"}]},
    )

    width: int | None = Field(default=None, ge=rules.SIZE_MIN, le=rules.SIZE_MAX)
    height: int | None = Field(default=None, ge=rules.SIZE_MIN, le=rules.SIZE_MAX)
    color_count: int | None = Field(default=None, ge=rules.COLORS_MIN, le=rules.COLORS_MAX)
    fps: Fps | None = None
    dither: Dither | None = None
    fit: Fit | None = None
    background: Background | None = None  # type: ignore[assignment]
    loop: LoopMode | bool | None = None  # type: ignore[assignment]


class CreateJobRequest(CanvasOptions):
    """A prompt for the video model, or (with ``source``) the user's own video to pixelate."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "prompt": "a knight swinging a sword",
                    "width": 64,
                    "height": 64,
                    "colorCount": 16,
                    "fps": 12,
                },
                {
                    "prompt": "a slime bouncing",
                    "width": 32,
                    "height": 32,
                    "colorCount": 8,
                    "fps": 12,
                    "duration": 5,
                    "loop": "trim",
                    "dither": "bayer",
                    "aspectRatio": "1:1",
                    "webhookUrl": "https://example.com/hooks/pixelmotion",
                },
                {
                    "prompt": "a knight walking",
                    "width": 64,
                    "height": 64,
                    "palette": "endesga-32",
                    "fps": 12,
                    "background": "remove",
                    "fit": "subject",
                    "loop": "trim",
                },
                {
                    "source": {"type": "url", "url": "https://example.com/clips/walk.mp4"},
                    "width": 48,
                    "height": 48,
                    "colorCount": 16,
                    "fps": 12,
                },
            ]
        },
    )

    prompt: str | None = Field(
        default=None, min_length=rules.PROMPT_MIN, max_length=rules.PROMPT_MAX, pattern=NO_NUL
    )
    source: Annotated[UrlSource | UploadSource, Field(discriminator="type")] | None = None
    width: int = Field(ge=rules.SIZE_MIN, le=rules.SIZE_MAX)
    height: int = Field(ge=rules.SIZE_MIN, le=rules.SIZE_MAX)
    color_count: int | None = Field(default=None, ge=rules.COLORS_MIN, le=rules.COLORS_MAX)
    fps: Fps
    duration: Duration = 5
    model: Model = "ray-2"
    resolution: Resolution = "720p"
    aspect_ratio: AspectRatio | None = None
    dither: Dither = "none"
    fit: Fit = "crop"
    project_id: str | None = Field(default=None, max_length=200, pattern=NO_NUL)
    keyframe: KeyframeSource | None = Field(
        default=None, description="An uploaded image the clip starts from"
    )
    webhook_url: FetchableUrl | None = Field(default=None, max_length=2048, pattern=HTTP_URL)
    webhook_events: Literal["terminal", "all"] = "terminal"


class CreateJobResponse(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "jobId": EXAMPLE_JOB_ID,
                    "status": "pending",
                    "estimatedTimeSeconds": 90,
                    "webhookSecret": None,
                }
            ]
        }
    )

    job_id: str
    status: str
    estimated_time_seconds: int
    webhook_secret: str | None = Field(
        default=None, description="Signing secret of the job's webhook endpoint"
    )


class PlanCreateResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "success": True,
                    "data": {
                        "jobId": EXAMPLE_JOB_ID,
                        "status": "pending",
                        "estimatedTimeSeconds": 90,
                        "webhookSecret": None,
                    },
                }
            ]
        }
    )

    success: bool = True
    data: CreateJobResponse


class ErrorBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"code": "LUMA_GENERATION_FAILED", "message": "The video model could not make this clip"}
            ]
        }
    )

    code: str
    message: str


class JobResponse(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_JOB, EXAMPLE_FAILED_JOB]})

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
    loop: str = Field(description="none, trim or pingpong")
    dither: str
    fit: str
    project_id: str | None
    palette: list[str] | None = Field(description="The request's fixed palette, #rrggbb")
    background: str
    key_color: str | None = Field(description="The key colour given, else the one the render estimated")
    seam: float | None = Field(
        description="loop trim: the jump from the last frame back to the first over the median "
        "frame-to-frame difference (lower is smoother)"
    )
    transparent_index: int | None = Field(description="The palette entry that is transparent")
    parent_job_id: str | None = Field(description="A re-render's parent job")
    estimated_cost_usd: float = Field(description="Provider cost at its per-pixel prices (0 for imports)")
    queue_position: int | None = Field(
        None,
        description="While pending and not yet sent to the video model: the job's place among "
        "all jobs waiting for the provider account's limits (1 is next); null otherwise.",
    )

    @classmethod
    def of(cls, job: Job, *, estimate: int, queue_position: int | None = None) -> JobResponse:
        error = ErrorBody(code=job.error_code, message=job.error_message or "") if job.error_code else None
        rendered = job.frame_data or {}
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
            loop=job.loop_mode,
            dither=job.dither,
            fit=job.fit,
            project_id=job.project_id,
            palette=job.palette,
            background=job.background,
            key_color=job.key_color or rendered.get("keyColor"),
            seam=rendered.get("seam"),
            transparent_index=rendered.get("transparentIndex"),
            parent_job_id=job.parent_job_id,
            estimated_cost_usd=0.0
            if job.provider == "import"
            else estimated_cost_usd(job.model, job.resolution, job.aspect_ratio, job.duration),
            queue_position=queue_position,
        )


class JobListResponse(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"jobs": [EXAMPLE_JOB], "nextCursor": "2026-05-04T10:00:00+00:00"}]}
    )

    jobs: list[JobResponse]
    next_cursor: str | None


def job_json(job: Job, *, estimate: int, queue_position: int | None = None) -> dict[str, Any]:
    return JobResponse.of(job, estimate=estimate, queue_position=queue_position).model_dump(
        mode="json", by_alias=True
    )


class UploadResponse(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"uploadId": EXAMPLE_UPLOAD_ID, "bytes": 1843200, "kind": "video"}]}
    )

    upload_id: str
    bytes: int
    kind: Literal["video", "image"]


class WebhookEndpointRequest(CamelModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "https://example.com/hooks/pixelmotion"}]},
    )

    url: FetchableUrl = Field(max_length=2048, pattern=HTTP_URL)


class WebhookEndpointResponse(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f",
                    "url": "https://example.com/hooks/pixelmotion",
                    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    "disabled": False,
                    "createdAt": "2026-05-04T09:58:12.000000Z",
                }
            ]
        }
    )

    id: str
    url: str
    secret: str
    disabled: bool
    created_at: datetime


class DeliveryResponse(CamelModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "2b7c1d0e-9f8a-4b6c-8d5e-3f2a1b0c9d8e",
                    "eventType": "job.completed",
                    "status": "succeeded",
                    "attempts": 1,
                    "lastStatusCode": 204,
                    "lastError": None,
                    "nextAttemptAt": None,
                    "createdAt": "2026-05-04T10:01:31.500000Z",
                    "deliveredAt": "2026-05-04T10:01:31.700000Z",
                }
            ]
        }
    )

    id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
