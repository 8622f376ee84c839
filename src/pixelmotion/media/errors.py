"""The one exception type of the media pipeline, and its codes."""

from __future__ import annotations

NO_VIDEO_STREAM = "NO_VIDEO_STREAM"
VIDEO_TRUNCATED = "VIDEO_TRUNCATED"
VIDEO_UNREADABLE = "VIDEO_UNREADABLE"
VIDEO_TOO_LARGE = "VIDEO_TOO_LARGE"
DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
URL_NOT_ALLOWED = "URL_NOT_ALLOWED"  # the SSRF guard refused the address
INVALID_OPTIONS = "INVALID_OPTIONS"
INVALID_PALETTE = "INVALID_PALETTE"  # no colours, over 256, or a malformed palette file

CODES = frozenset(
    {
        NO_VIDEO_STREAM,
        VIDEO_TRUNCATED,
        VIDEO_UNREADABLE,
        VIDEO_TOO_LARGE,
        DOWNLOAD_FAILED,
        URL_NOT_ALLOWED,
        INVALID_OPTIONS,
        INVALID_PALETTE,
    }
)


class MediaError(Exception):
    """A video could not be fetched, read or converted.

    ``code`` is one of :data:`CODES` (stable, for machines); ``message`` is for people.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[MediaError], tuple[str, str]]:
        # Keeps the error picklable across a ProcessPoolExecutor boundary.
        return (type(self), (self.code, self.message))
