"""``POST /v1/uploads``: a user's own video (for ``source.uploadId``) or image (for
``keyframe.uploadId``), kept under the owner's prefix; and the signed, expiring link through
which the provider fetches a keyframe image."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from pixelmotion.api.auth import CurrentCaller
from pixelmotion.api.deps import ServicesDep
from pixelmotion.api.errors import ApiError
from pixelmotion.api.schemas import UploadResponse
from pixelmotion.media.download import SNIFF_BYTES, looks_like_video
from pixelmotion.objects import ObjectNotFound
from pixelmotion.objects.uploads import owner_key, upload_key
from pixelmotion.security import verify_keyframe_signature

router = APIRouter(prefix="/v1", tags=["uploads"])


@router.post("/uploads", status_code=201, response_model=UploadResponse, response_model_by_alias=True)
async def upload(request: Request, caller: CurrentCaller, services: ServicesDep) -> UploadResponse:
    """Send the file as the request body (e.g. ``Content-Type: video/mp4`` or ``image/png``)."""
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
        head = handle.read(SNIFF_BYTES)
        kind: Literal["video", "image"]
        if size >= SNIFF_BYTES and looks_like_video(head):
            kind = "video"
        elif size >= SNIFF_BYTES and image_type(head):
            kind = "image"
        else:
            raise ApiError(
                415, "UNSUPPORTED_UPLOAD", "The upload is neither a video (MP4, MOV, WebM, MKV) nor an image."
            )
        upload_id = uuid.uuid4().hex
        key = upload_key(caller.user_id, upload_id)
        await run_in_threadpool(services.store.put_file, key, Path(handle.name), "video/mp4")
    return UploadResponse(upload_id=upload_id, bytes=size, kind=kind)


IMAGE_TYPES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}


def image_type(head: bytes) -> str | None:
    """The image's media type from its first bytes (PNG, JPEG, GIF, WebP), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in IMAGE_TYPES.items() if head.startswith(magic)), None)


@router.get("/keyframes/{upload_id}", include_in_schema=False)
def keyframe(upload_id: str, owner: str, expires: int, sig: str, services: ServicesDep) -> Response:
    """The provider fetches a keyframe here; the link is signed and expires (no bearer token)."""
    if not verify_keyframe_signature(
        services.settings.verifying_keys, owner, upload_id, expires, sig, time.time()
    ):
        raise ApiError(403, "LINK_EXPIRED", "This keyframe link is invalid or has expired.")
    try:
        data = services.store.get_bytes(owner_key(owner, upload_id))
    except (ObjectNotFound, ValueError):
        raise ApiError(404, "NOT_FOUND", "No such keyframe.") from None
    media_type = image_type(data[:SNIFF_BYTES])
    if media_type is None:
        raise ApiError(404, "NOT_FOUND", "No such keyframe.")
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=300"})
