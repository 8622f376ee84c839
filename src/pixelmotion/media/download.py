"""Safe streaming download of a video: size cap, content sniffing, resume after a cut."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import BinaryIO

import httpx

from .errors import DOWNLOAD_FAILED, URL_NOT_ALLOWED, VIDEO_TOO_LARGE, VIDEO_UNREADABLE, MediaError
from .guard import AddressGuard, BlockedAddress, GuardedTransport

RETRIES = 3
BACKOFF_S = (0.2, 0.6, 1.5)
SNIFF_BYTES = 12
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
_EBML = b"\x1a\x45\xdf\xa3"  # Matroska / WebM
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def looks_like_video(head: bytes) -> bool:
    """True for the first bytes of an MP4/MOV or a Matroska/WebM file."""
    return head[4:8] in _MP4_BOXES or head[:4] == _EBML


class _Retry(Exception):
    """A failure worth another attempt (cut connection, timeout, server error)."""


class _Download:
    def __init__(self, client: httpx.Client, url: str, fh: BinaryIO, max_bytes: int) -> None:
        self.client, self.url, self.fh, self.max_bytes = client, url, fh, max_bytes
        self.written = 0
        self.validator: str | None = None
        self.sniffed = False

    def attempt(self) -> None:
        headers = {"Accept-Encoding": "identity"}
        if self.written:
            headers["Range"] = f"bytes={self.written}-"
            if self.validator:
                headers["If-Range"] = self.validator
        try:
            with self.client.stream("GET", self.url, headers=headers) as response:
                self._start(response)
                for chunk in response.iter_bytes():
                    self._write(chunk)
        except BlockedAddress as exc:
            # str(exc) is generic; the guard logged where the host really points.
            raise MediaError(URL_NOT_ALLOWED, f"refused to fetch this URL: {exc}") from None
        except httpx.TransportError as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from None

    def _start(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in (408, 429) or status >= 500:
            raise _Retry(f"HTTP {status}")
        if status not in (200, 206):
            raise MediaError(DOWNLOAD_FAILED, f"the server answered HTTP {status}")
        if status == 206 and self.written:
            match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
            if match is None or int(match.group(1)) != self.written:
                self._restart()
                raise _Retry("the server resumed at the wrong offset")
        elif self.written:
            self._restart()  # the server ignored the Range header: start over
        self.validator = response.headers.get("etag") or response.headers.get("last-modified")
        length = response.headers.get("content-length")
        if length and length.isdigit() and self.written + int(length) > self.max_bytes:
            raise _too_large(self.max_bytes)

    def _restart(self) -> None:
        self.fh.seek(0)
        self.fh.truncate()
        self.written = 0
        self.sniffed = False

    def _write(self, chunk: bytes) -> None:
        if self.written + len(chunk) > self.max_bytes:
            raise _too_large(self.max_bytes)
        self.fh.write(chunk)
        self.written += len(chunk)
        if not self.sniffed and self.written >= SNIFF_BYTES:
            self._sniff()

    def _sniff(self) -> None:
        self.fh.flush()
        with open(self.fh.name, "rb") as check:
            head = check.read(SNIFF_BYTES)
        if not looks_like_video(head):
            raise MediaError(VIDEO_UNREADABLE, "the download is not an MP4, MOV, WebM or MKV video")
        self.sniffed = True


def _too_large(limit: int) -> MediaError:
    return MediaError(VIDEO_TOO_LARGE, f"the video is larger than {limit} bytes")


def download_video(
    url: str,
    dest: str | Path,
    *,
    max_bytes: int,
    connect_timeout: float = 10,
    read_timeout: float = 30,
    guard: AddressGuard | None = None,
) -> int:
    """Stream ``url`` into ``dest``; return the number of bytes written.

    Cut connections are resumed with an HTTP Range request (a few tries, with backoff).
    With a ``guard``, every hop (redirects included) must pass its SSRF check.
    Raises ``MediaError``: DOWNLOAD_FAILED, URL_NOT_ALLOWED, VIDEO_TOO_LARGE or VIDEO_UNREADABLE.
    """
    if not url.lower().startswith(("http://", "https://")):
        raise MediaError(DOWNLOAD_FAILED, "only http and https URLs can be downloaded")
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    try:
        transport = GuardedTransport(guard) if guard is not None else None
        with (
            httpx.Client(
                timeout=timeout, follow_redirects=True, max_redirects=5, transport=transport
            ) as client,
            partial.open("wb") as fh,
        ):
            job = _Download(client, url, fh, max_bytes)
            _run(job)
            if not job.sniffed:
                raise MediaError(VIDEO_UNREADABLE, "the download is too short to be a video")
        os.replace(partial, target)
        return job.written
    except httpx.HTTPError as exc:  # invalid URL and the like
        raise MediaError(DOWNLOAD_FAILED, f"{type(exc).__name__}: {exc}") from None
    except (httpx.InvalidURL, UnicodeError, ValueError):
        # A host httpx cannot parse (``0177.0.0.1``, bad IDNA...): the user's input, not a crash.
        raise MediaError(URL_NOT_ALLOWED, "the URL is not a valid http(s) URL") from None
    finally:
        partial.unlink(missing_ok=True)


def _run(job: _Download) -> None:
    for attempt in range(RETRIES + 1):
        try:
            job.attempt()
            return
        except _Retry as exc:
            if attempt == RETRIES:
                raise MediaError(DOWNLOAD_FAILED, f"download failed: {exc}") from None
            time.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
