"""Serving a generation's clip like a CDN: no auth, HTTP Range, and the asset faults.

A healthy asset is a ``FileResponse`` (Starlette answers Range with 206). The faulty ones:
- ``truncated_asset`` / ``corrupt_asset``: a damaged copy written next to the clip once, then
  served like a healthy file (so Range works and the length is consistent);
- ``slow_asset``: the bytes trickle out (Range honoured);
- ``cut_asset``: a download from byte 0 stops halfway and the connection is dropped;
  a ranged request (a resume) is served whole;
- ``wrong_content_type``: an HTML error page answered 200 with ``text/html``;
- ``huge_asset``: announces 10 GiB and keeps streaming until the client gives up.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

MP4 = "video/mp4"
CHUNK = 64 * 1024
SLOW_CHUNK = 16 * 1024
SLOW_PAUSE_SECONDS = 0.05  # about 320 KB/s
HUGE_SIZE = 10 * 1024**3
HEADER_BYTES_KEPT = 64  # corrupt_asset keeps the ftyp box so magic-byte checks pass
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def asset_response(request: Request, clip: Path, faults: dict[str, str]) -> Response:
    if "wrong_content_type" in faults:
        return HTMLResponse("<html><body><h1>503 Service Unavailable</h1></body></html>")
    if "huge_asset" in faults:
        return StreamingResponse(_endless(clip), media_type=MP4, headers={"Content-Length": str(HUGE_SIZE)})
    if "truncated_asset" in faults:
        return FileResponse(_damaged_copy(clip, "truncated", _truncate), media_type=MP4)
    if "corrupt_asset" in faults:
        return FileResponse(_damaged_copy(clip, "corrupt", _scramble), media_type=MP4)
    if "slow_asset" in faults or "cut_asset" in faults:
        size = clip.stat().st_size
        span = _byte_range(request.headers.get("range"), size)
        if "cut_asset" in faults and span is None:
            return CutResponse(clip, size)
        return _streamed(clip, size, span, slow="slow_asset" in faults)
    return FileResponse(clip, media_type=MP4)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single ``bytes=a-b`` range as (start, end exclusive); None for none or unusable."""
    match = _RANGE.match(header.strip()) if header else None
    if match is None or not (match.group(1) or match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix range: the last N bytes
        return (max(0, size - int(last)), size)
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    return (start, end) if start < end else None


def _streamed(clip: Path, size: int, span: tuple[int, int] | None, *, slow: bool) -> Response:
    start, end = span or (0, size)
    headers = {"Content-Length": str(end - start), "Accept-Ranges": "bytes"}
    status = 200
    if span is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    chunk, pause = (SLOW_CHUNK, SLOW_PAUSE_SECONDS) if slow else (CHUNK, 0.0)
    body = _read_span(clip, start, end, chunk, pause)
    return StreamingResponse(body, status_code=status, media_type=MP4, headers=headers)


async def _read_span(clip: Path, start: int, end: int, chunk: int, pause: float) -> AsyncIterator[bytes]:
    with clip.open("rb") as file:
        file.seek(start)
        position = start
        while position < end:
            data = file.read(min(chunk, end - position))
            if not data:
                return
            position += len(data)
            yield data
            if pause:
                await asyncio.sleep(pause)


async def _endless(clip: Path) -> AsyncIterator[bytes]:
    yield clip.read_bytes()
    filler = bytes(CHUNK)
    while True:
        yield filler
        await asyncio.sleep(0)  # let a disconnect be noticed


class CutResponse(Response):
    """Announces the whole clip, sends half of it, then drops the connection."""

    def __init__(self, clip: Path, size: int) -> None:
        super().__init__(media_type=MP4, headers={"Accept-Ranges": "bytes"})
        self.clip = clip
        self.headers["content-length"] = str(size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        data = self.clip.read_bytes()
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": data[: len(data) // 2], "more_body": True})
        # Returning without finishing the body makes the server close the connection: the
        # client sees fewer bytes than Content-Length promised, as with a cut connection.


def _damaged_copy(clip: Path, kind: str, damage: Callable[[bytes], bytes]) -> Path:
    target = clip.with_name(f"{clip.stem}.{kind}.mp4")
    if not target.exists():
        partial = target.with_name(f".{target.name}.partial")
        partial.write_bytes(damage(clip.read_bytes()))
        partial.replace(target)
    return target


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _scramble(data: bytes) -> bytes:
    noise = random.Random(len(data)).randbytes(len(data) - HEADER_BYTES_KEPT)
    return data[:HEADER_BYTES_KEPT] + noise
