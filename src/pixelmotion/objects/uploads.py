"""Where users' uploads live in the object store: ``uploads/{owner}/{upload_id}``.

The owner part is a hash of the user id, so an upload id alone never reaches another
user's file, and a keyframe link can name the owner without naming the user.
"""

from __future__ import annotations

import hashlib

PREFIX = "uploads"


def owner_of(user_id: str) -> str:
    return hashlib.sha256(user_id.encode()).hexdigest()[:24]


def owner_key(owner: str, upload_id: str) -> str:
    """The key of an upload, given its owner part (as a keyframe link carries it)."""
    return f"{PREFIX}/{owner}/{upload_id}"


def upload_key(user_id: str, upload_id: str) -> str:
    """The key of a user's upload."""
    return owner_key(owner_of(user_id), upload_id)


def split_upload_key(key: str) -> tuple[str, str]:
    """(owner, upload id) of an upload's key."""
    prefix, owner, upload_id = key.split("/")
    if prefix != PREFIX:
        raise ValueError(f"not an upload key: {key!r}")
    return owner, upload_id
