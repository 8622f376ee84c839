"""A user's uploads: a video (for ``source.uploadId``) or an image (for ``keyframe.uploadId``),
kept under the owner's prefix; and the signed, expiring link through which the provider
fetches a keyframe image."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pixelmotion.app.errors import Forbidden, NotFound, TooLarge, UnsupportedMedia
from pixelmotion.media.download import SNIFF_BYTES, looks_like_video
from pixelmotion.objects import ObjectNotFound, ObjectStore
from pixelmotion.objects.uploads import owner_key, upload_key
from pixelmotion.security import verify_keyframe_signature

IMAGE_TYPES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}
UploadKind = Literal["video", "image"]


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bytes: int
    kind: UploadKind


def image_type(head: bytes) -> str | None:
    """The image's media type from its first bytes (PNG, JPEG, GIF, WebP), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in IMAGE_TYPES.items() if head.startswith(magic)), None)


def too_large(limit: int) -> TooLarge:
    return TooLarge("VIDEO_TOO_LARGE", f"The video is larger than {limit} bytes.")


async def save_upload(
    user_id: str,
    objects: ObjectStore,
    body: AsyncIterator[bytes],
    *,
    limit: int,
    declared: int | None,
) -> Upload:
    """Stream the body to a temporary file (never more than ``limit`` bytes), sniff what it
    is, and keep it under the user's prefix."""
    if declared is not None and declared > limit:
        raise too_large(limit)
    with tempfile.NamedTemporaryFile(prefix="pixelmotion-upload-", suffix=".bin") as handle:
        size = 0
        async for chunk in body:
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            handle.write(chunk)
        handle.flush()
        handle.seek(0)
        kind = upload_kind(handle.read(SNIFF_BYTES), size)
        upload_id = uuid.uuid4().hex
        key = upload_key(user_id, upload_id)
        await asyncio.to_thread(objects.put_file, key, Path(handle.name), "video/mp4")
    return Upload(upload_id, size, kind)


def upload_kind(head: bytes, size: int) -> UploadKind:
    if size >= SNIFF_BYTES and looks_like_video(head):
        return "video"
    if size >= SNIFF_BYTES and image_type(head):
        return "image"
    raise UnsupportedMedia(
        "UNSUPPORTED_UPLOAD", "The upload is neither a video (MP4, MOV, WebM, MKV) nor an image."
    )


def keyframe_image(
    objects: ObjectStore,
    verifying_keys: tuple[str, ...],
    *,
    owner: str,
    upload_id: str,
    expires: int,
    signature: str,
    now: float,
) -> tuple[bytes, str]:
    """(bytes, media type) of the keyframe a signed, unexpired link names."""
    if not verify_keyframe_signature(verifying_keys, owner, upload_id, expires, signature, now):
        raise Forbidden("LINK_EXPIRED", "This keyframe link is invalid or has expired.")
    try:
        data = objects.get_bytes(owner_key(owner, upload_id))
    except (ObjectNotFound, ValueError):
        raise NotFound("NOT_FOUND", "No such keyframe.") from None
    media_type = image_type(data[:SNIFF_BYTES])
    if media_type is None:
        raise NotFound("NOT_FOUND", "No such keyframe.")
    return data, media_type
