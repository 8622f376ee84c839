"""``POST /v1/uploads``: a user's own video, kept for a job to pixelate (``source.uploadId``)."""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from pixelmotion.api.auth import CurrentCaller
from pixelmotion.api.deps import ServicesDep
from pixelmotion.api.errors import ApiError
from pixelmotion.api.schemas import UploadResponse
from pixelmotion.media.download import SNIFF_BYTES, looks_like_video

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])


def upload_key(user_id: str, upload_id: str) -> str:
    """Uploads live under their owner's prefix, so an id alone never reaches another's file."""
    owner = hashlib.sha256(user_id.encode()).hexdigest()[:24]
    return f"uploads/{owner}/{upload_id}"


@router.post("", status_code=201, response_model=UploadResponse, response_model_by_alias=True)
async def upload(request: Request, caller: CurrentCaller, services: ServicesDep) -> UploadResponse:
    """Send the video file as the request body (e.g. ``Content-Type: video/mp4``)."""
    limit = services.settings.max_video_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "VIDEO_TOO_LARGE", f"The video is larger than {limit} bytes.")
    with tempfile.NamedTemporaryFile(prefix="pixelmotion-upload-", suffix=".bin") as handle:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "VIDEO_TOO_LARGE", f"The video is larger than {limit} bytes.")
            handle.write(chunk)
        handle.flush()
        handle.seek(0)
        if size < SNIFF_BYTES or not looks_like_video(handle.read(SNIFF_BYTES)):
            raise ApiError(415, "VIDEO_UNREADABLE", "The upload is not an MP4, MOV, WebM or MKV video.")
        upload_id = uuid.uuid4().hex
        key = upload_key(caller.user_id, upload_id)
        await run_in_threadpool(services.store.put_file, key, Path(handle.name), "video/mp4")
    return UploadResponse(upload_id=upload_id, bytes=size)
