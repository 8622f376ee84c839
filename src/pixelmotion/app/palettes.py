"""A job request's fixed palette: a preset name, hex colours, an uploaded palette file, or
the palette of an earlier job of the caller's (``paletteFrom``), read at submit so a bad one
is a coded 422 (``INVALID_PALETTE``) before anything is written."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from pixelmotion.app.ports import UserScope
from pixelmotion.jobs.errors import InvalidRequest
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.media.errors import MediaError
from pixelmotion.media.palette_files import load_palette

MAX_PALETTE_FILE = 64 * 1024  # decoded bytes of an uploaded palette file
INVALID_PALETTE = "INVALID_PALETTE"


@dataclass(frozen=True)
class PaletteFile:
    """An uploaded palette file as the API got it: base64 text and the file's name."""

    base64: str
    filename: str | None = None


PaletteInput = str | list[str] | PaletteFile | None


def bad_palette(message: str, field: str = "palette") -> InvalidRequest:
    return InvalidRequest({field: message}, code=INVALID_PALETTE)


def read_palette(value: PaletteInput) -> list[str] | None:
    """A preset name, hex colours (text or list) or a palette file, as ``#rrggbb`` colours."""
    if value is None:
        return None
    try:
        if isinstance(value, PaletteFile):
            try:
                data = base64.b64decode(value.base64, validate=True)
            except (binascii.Error, ValueError):
                raise bad_palette("file is not base64", "palette.file") from None
            if len(data) > MAX_PALETTE_FILE:
                raise bad_palette(f"the palette file is over {MAX_PALETTE_FILE >> 10} KiB", "palette.file")
            return load_palette(data, value.filename)
        return load_palette(value)
    except MediaError as error:
        raise bad_palette(error.message) from None


def palette_of(job: Job) -> list[str] | None:
    """The colours a completed job's animation uses: its fixed palette, else the one it
    chose (its transparent entry left out: a later job adds its own)."""
    if job.palette:
        return list(job.palette)
    data = job.frame_data or {}
    colours = list(data.get("palette") or [])
    transparent = data.get("transparentIndex")
    if isinstance(transparent, int) and 0 <= transparent < len(colours):
        del colours[transparent]
    return colours or None


def palette_from(scope: UserScope, job_id: str) -> list[str]:
    """The palette of the caller's own completed job (anything else is as unknown as none)."""
    job = scope.store.jobs.get(job_id, user_id=scope.user_id)
    colours = palette_of(job) if job is not None and job.status is JobStatus.COMPLETED else None
    if colours is None:
        raise InvalidRequest({"paletteFrom": f"no completed job {job_id[:64]} for this user"})
    return colours


def chosen_palette(scope: UserScope, value: PaletteInput, from_job: str | None) -> list[str] | None:
    """The request's fixed palette: ``palette`` or ``paletteFrom`` (not both), or none."""
    if from_job is not None:
        if value is not None:
            raise InvalidRequest({"paletteFrom": "give palette or paletteFrom, not both"})
        return palette_from(scope, from_job)
    return read_palette(value)
