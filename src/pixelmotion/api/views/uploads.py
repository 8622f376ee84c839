"""``POST /v1/uploads``: a user's own video (for ``source.uploadId``) or image (for
``keyframe.uploadId``); and the signed, expiring link through which the provider fetches a
keyframe image (``app/uploads.py``)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from pixelmotion.api.deps import Scope, ServicesDep
from pixelmotion.api.schemas import UploadResponse
from pixelmotion.app import uploads as use_cases

router = APIRouter(prefix="/v1", tags=["uploads"])


@router.post("/uploads", status_code=201, response_model=UploadResponse, response_model_by_alias=True)
async def upload(request: Request, scope: Scope, services: ServicesDep) -> UploadResponse:
    """Send the file as the request body (e.g. ``Content-Type: video/mp4`` or ``image/png``)."""
    declared, settings = request.headers.get("content-length", ""), services.settings
    saved = await use_cases.save_upload(
        scope,
        request.stream(),
        limit=settings.max_video_bytes,
        declared=int(declared) if declared.isdigit() else None,
        rules=use_cases.UploadRules(settings.user_uploads_per_hour, settings.user_upload_bytes),
    )
    return UploadResponse(upload_id=saved.upload_id, bytes=saved.bytes, kind=saved.kind)


@router.get("/keyframes/{upload_id}", include_in_schema=False)
async def keyframe(upload_id: str, owner: str, expires: int, sig: str, services: ServicesDep) -> Response:
    """The provider fetches a keyframe here; the link is signed and expires (no bearer token)."""
    data, media_type = await run_in_threadpool(
        use_cases.keyframe_image,
        services.store,
        services.settings.verifying_keys,
        owner=owner,
        upload_id=upload_id,
        expires=expires,
        signature=sig,
        now=time.time(),
    )
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=300"})
