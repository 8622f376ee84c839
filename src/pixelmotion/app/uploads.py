"""A user's uploads: a video (for ``source.uploadId``) or an image (for ``keyframe.uploadId``),
kept under the owner's prefix; and the signed, expiring link through which the provider
fetches a keyframe image."""

from __future__ import annotations

import asyncio
import math
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Literal

from PIL import Image

from pixelmotion.app.errors import (
    Forbidden,
    LimitReached,
    NotFound,
    TooLarge,
    Unprocessable,
    UnsupportedMedia,
)
from pixelmotion.app.ports import UserScope
from pixelmotion.media.decode import MAX_SOURCE_PIXELS, MAX_SOURCE_SIDE, open_container, probe
from pixelmotion.media.download import SNIFF_BYTES, looks_like_video
from pixelmotion.media.errors import MediaError
from pixelmotion.objects import ObjectNotFound, ObjectStore
from pixelmotion.objects.uploads import owner_key, upload_key
from pixelmotion.security import verify_keyframe_signature
from pixelmotion.store.uploads import UploadUsage

IMAGE_TYPES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}
UploadKind = Literal["video", "image"]
HOUR = timedelta(hours=1)
PROBE_SECONDS = 20.0  # longest an upload's media probe may take


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


@dataclass(frozen=True)
class UploadRules:
    per_hour: int  # uploads a user may make in an hour
    quota_bytes: int  # bytes of uploads a user may keep
    probe_seconds: float = PROBE_SECONDS


async def save_upload(
    scope: UserScope,
    body: AsyncIterator[bytes],
    *,
    limit: int,
    declared: int | None,
    rules: UploadRules,
) -> Upload:
    """Stream the body to a temporary file (never more than ``limit`` bytes), check that it
    opens as the media it claims to be, record it against the user's rate and quota, and keep
    it under the user's prefix."""
    if declared is not None and declared > limit:
        raise too_large(limit)
    now = scope.clock()
    # Checked first without the body (no byte read past a limit), then again with the insert.
    usage = await asyncio.to_thread(scope.store.uploads.usage, scope.user_id, now - HOUR)
    upload_check(rules, declared or 0, now)(usage)
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
        await probe_in_time(Path(handle.name), kind, rules.probe_seconds)
        upload_id = uuid.uuid4().hex
        record = partial(scope.store.uploads.record, scope.user_id, upload_id, size=size, kind=kind)
        await asyncio.to_thread(record, now=now, since=now - HOUR, check=upload_check(rules, size, now))
        key = upload_key(scope.user_id, upload_id)
        try:
            await asyncio.to_thread(scope.objects.put_file, key, Path(handle.name), "video/mp4")
        except BaseException:
            await asyncio.to_thread(scope.store.uploads.forget, [upload_id])
            raise
    return Upload(upload_id, size, kind)


def upload_check(rules: UploadRules, size: int, now: datetime) -> Callable[[UploadUsage], None]:
    """Refuse an upload of ``size`` bytes past the user's hourly rate or kept-bytes quota."""

    def check(usage: UploadUsage) -> None:
        if len(usage.recent) >= rules.per_hour:
            free_at = usage.recent[len(usage.recent) - rules.per_hour] + HOUR
            raise LimitReached(
                "UPLOAD_RATE_LIMIT",
                f"You may upload {rules.per_hour} files an hour.",
                math.ceil((free_at - now).total_seconds()),
            )
        if usage.kept_bytes + size > rules.quota_bytes:
            raise TooLarge(
                "UPLOAD_QUOTA",
                f"Your uploads would take more than {rules.quota_bytes} bytes; uploads no job uses "
                "expire after a while.",
            )

    return check


async def probe_in_time(path: Path, kind: UploadKind, seconds: float) -> None:
    """Probe off the event loop; a file that takes longer than ``seconds`` is refused (the
    probe's thread finishes on its own: PyAV and Pillow cannot be interrupted)."""
    try:
        await asyncio.wait_for(asyncio.to_thread(probe_media, path, kind), seconds)
    except TimeoutError:
        raise unreadable("it took too long to read") from None


def probe_media(path: Path, kind: UploadKind) -> None:
    """A video must open in PyAV with a video stream of a sane size and length; an image must
    open in Pillow and decode, at a sane size. Else 422 ``UPLOAD_UNREADABLE``."""
    if kind == "video":
        try:
            with open_container(path) as container:
                probe(container)
        except MediaError as error:
            raise unreadable(error.message) from None
        return
    try:
        with Image.open(path) as image:
            width, height = image.size
            if max(width, height) > MAX_SOURCE_SIDE or width * height > MAX_SOURCE_PIXELS:
                raise unreadable(f"the image is {width}×{height}, too large")
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise unreadable(f"not a readable image ({type(error).__name__})") from None


def unreadable(why: str) -> Unprocessable:
    return Unprocessable("UPLOAD_UNREADABLE", f"The upload cannot be read as media: {why}.")


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
