"""The domain: jobs, their states and the rules they follow. Pure Python, no I/O."""

from pixelmotion.jobs.errors import ErrorCode, InvalidRequest
from pixelmotion.jobs.models import Job, JobEvent, JobSpec
from pixelmotion.jobs.states import MESSAGES, PROGRESS, JobStatus

__all__ = [
    "MESSAGES",
    "PROGRESS",
    "ErrorCode",
    "InvalidRequest",
    "Job",
    "JobEvent",
    "JobSpec",
    "JobStatus",
]
