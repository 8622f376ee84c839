"""Error codes a job can end with, and the error raised when a request is not valid."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    PROVIDER_REJECTED = "PROVIDER_REJECTED"  # 400/422 from the provider
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"  # 429/5xx/timeouts on every try
    PROVIDER_LOST = "PROVIDER_LOST"  # the provider no longer knows the generation
    LUMA_GENERATION_FAILED = "LUMA_GENERATION_FAILED"
    DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
    URL_NOT_ALLOWED = "URL_NOT_ALLOWED"
    VIDEO_UNREADABLE = "VIDEO_UNREADABLE"
    VIDEO_TRUNCATED = "VIDEO_TRUNCATED"
    VIDEO_TOO_LARGE = "VIDEO_TOO_LARGE"
    NO_VIDEO_STREAM = "NO_VIDEO_STREAM"
    PROCESSING_FAILED = "PROCESSING_FAILED"
    # Our own storage; the worker retries both until the job's deadline (docs/RELIABILITY.md).
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"  # the object store stayed down
    STORAGE_FULL = "STORAGE_FULL"  # no space left for the results or the scratch files
    TIMEOUT = "TIMEOUT"
    CANCELED = "CANCELED"


class InvalidRequest(ValueError):
    """A job request breaks a rule; ``fields`` maps each bad field to what is wrong."""

    def __init__(self, fields: dict[str, str], code: str = "INVALID_REQUEST") -> None:
        self.fields = fields
        self.code = code  # INVALID_PALETTE for a palette that cannot be read
        first = next(iter(fields.items()))
        super().__init__(f"{first[0]}: {first[1]}")
