"""The errors a use case ends with. Each names its code and message; ``api/errors.py`` is
the one place that turns them into HTTP statuses (a request that breaks a rule of the job
request itself is ``jobs.errors.InvalidRequest``, a 422)."""

from __future__ import annotations


class AppError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(AppError):
    """The thing does not exist for this caller (another user's is as unknown as none)."""


class Conflict(AppError):
    """The thing exists but is not in a state that allows this (finished, not failed…)."""


class LimitReached(AppError):
    """A limit of the caller's refuses this now; ``retry_after`` seconds say when to come back."""

    def __init__(self, code: str, message: str, retry_after: int) -> None:
        super().__init__(code, message)
        self.retry_after = max(1, retry_after)


class Unauthenticated(AppError):
    """The request does not prove who sent it (a callback's token)."""


class Forbidden(AppError):
    """The request proves who sent it, and that is not enough (an expired link)."""


class TooLarge(AppError):
    pass


class UnsupportedMedia(AppError):
    pass


class Unprocessable(AppError):
    """The body arrived whole and is of a known type, but its content cannot be used (422)."""


class Malformed(AppError):
    """The body cannot be read as what the route takes (a callback that is no Generation)."""


class KeyReusedError(AppError):
    """An Idempotency-Key came back with another request body (422)."""


def job_not_found(job_id: str) -> NotFound:
    return NotFound("JOB_NOT_FOUND", f"No job {job_id} for this user.")
