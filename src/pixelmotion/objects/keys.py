"""Every object key pixelmotion stores under, and each stored file's content type.

- ``jobs/{job_id}/source.mp4``: the provider's clip, kept so a reprocess pays nothing again;
- ``jobs/{job_id}/{file name}``: a job's results, named as in ``OUTPUT_FILES``;
- ``uploads/{owner}/{upload_id}``: users' uploads. The owner part is a hash of the user id, so
  an upload id alone never reaches another user's file, and a keyframe link can name the
  owner without naming the user.
"""

from __future__ import annotations

import hashlib

JOBS_PREFIX = "jobs"
UPLOADS_PREFIX = "uploads"
SOURCE_CLIP = "source.mp4"
VIDEO_TYPE = "video/mp4"
UNKNOWN_TYPE = "application/octet-stream"

# A result's name (the keys of a job's frame_storage_urls) -> its file name in the render's
# output directory and under the job's prefix. "pngs" is a directory, written but not stored.
OUTPUT_FILES = {
    "sheet": "sheet.png",
    "sheetJson": "sheet.json",
    "gif": "animation.gif",
    "webp": "animation.webp",
    "apng": "animation.png",
    "pngs": "frames/",
    "zip": "frames.zip",
    "aseprite": "animation.aseprite",
    "sheetHash": "sheet.hash.json",
    "sheetArray": "sheet.array.json",
    "godot": "animation.tres",
    "frames": "frames.json.gz",
    "indexed": "frames.indexed.json.gz",
}
# The frames JSON as the offline ``convert`` writes it for a person (not gzipped).
PLAIN_FRAMES_FILE = "frames.json"
# The results the worker stores, with the content type they are stored and served with.
STORED_TYPES = {
    "sheet": "image/png",
    "sheetJson": "application/json",
    "gif": "image/gif",
    "webp": "image/webp",
    "apng": "image/apng",
    "zip": "application/zip",
    "aseprite": "application/octet-stream",
    "sheetHash": "application/json",
    "sheetArray": "application/json",
    "godot": "text/plain; charset=utf-8",
    "frames": "application/gzip",
    "indexed": "application/gzip",
}


def content_type(output: str) -> str:
    """The content type of a stored result, by its name."""
    return STORED_TYPES.get(output, UNKNOWN_TYPE)


def job_prefix(job_id: str) -> str:
    """Everything stored for one job (retention deletes it at once)."""
    return f"{JOBS_PREFIX}/{job_id}"


def source_clip_key(job_id: str) -> str:
    return f"{job_prefix(job_id)}/{SOURCE_CLIP}"


def output_key(job_id: str, output: str) -> str:
    """The key of one of a job's results, by its name (``sheet``, ``gif``, …)."""
    return f"{job_prefix(job_id)}/{OUTPUT_FILES[output]}"


def owner_of(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()[:24]


def owner_key(owner: str, upload_id: str) -> str:
    """The key of an upload, given its owner part (as a keyframe link carries it)."""
    return f"{UPLOADS_PREFIX}/{owner}/{upload_id}"


def upload_key(user_id: str, upload_id: str) -> str:
    """The key of a user's upload."""
    return owner_key(owner_of(user_id), upload_id)


def split_upload_key(key: str) -> tuple[str, str]:
    """(owner, upload id) of an upload's key."""
    prefix, owner, upload_id = key.split("/")
    if prefix != UPLOADS_PREFIX:
        raise ValueError(f"not an upload key: {key!r}")
    return owner, upload_id
