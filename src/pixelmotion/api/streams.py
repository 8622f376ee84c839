"""Sending a stored gzip file without ever holding its inflated form: as is to a client that
accepts gzip, else inflated a chunk at a time in the thread pool (issue 17, finding 4)."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from typing import BinaryIO

from fastapi.responses import FileResponse, Response, StreamingResponse

from pixelmotion.app.jobs import Output

CHUNK_BYTES = 256 * 1024  # inflated bytes per read: the most a request holds at once


def send_gzip(output: Output, accept_encoding: str) -> Response:
    """The stored gzip bytes (a local file or bytes) as ``output.media_type``."""
    headers = {"Vary": "Accept-Encoding"}
    if "gzip" in accept_encoding.lower():
        headers["Content-Encoding"] = "gzip"
        if output.path is not None:
            return FileResponse(output.path, media_type=output.media_type, headers=headers)
        return Response(output.data, media_type=output.media_type, headers=headers)
    # A sync iterator: Starlette runs each step in the thread pool, off the event loop.
    return StreamingResponse(inflated(output), media_type=output.media_type, headers=headers)


def inflated(output: Output) -> Iterator[bytes]:
    source: BinaryIO = open(output.path, "rb") if output.path is not None else io.BytesIO(output.data or b"")  # noqa: SIM115
    with source, gzip.GzipFile(fileobj=source, mode="rb") as unzipped:
        while chunk := unzipped.read(CHUNK_BYTES):
            yield chunk
