"""Upload keys moved to ``pixelmotion.objects.keys``; this name stays only until api/views and
worker/ import from there (issue 12, landing on another branch). Delete it then."""

from __future__ import annotations

from pixelmotion.objects.keys import UPLOADS_PREFIX as PREFIX
from pixelmotion.objects.keys import owner_key, owner_of, split_upload_key, upload_key

__all__ = ["PREFIX", "owner_key", "owner_of", "split_upload_key", "upload_key"]
