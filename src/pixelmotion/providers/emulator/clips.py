"""Rendered clips on disk, one per (prompt, size, duration, keyframe): never rendered twice.

Rendering is CPU work, so it runs in the executor the caller gives (a process pool in the
service) or in a thread; two generations asking for the same clip at once share one render.
An image keyframe is downloaded first, as Luma does; one it cannot read fails the generation
with "Failed to read user input frames".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
from pathlib import Path

import httpx

from .render import clip_cache_key, render_clip_atomically

KEYFRAME_MAX_BYTES = 20 * 1024 * 1024
KEYFRAME_TIMEOUT_SECONDS = 10.0


class KeyframeUnreadable(Exception):
    """The keyframe image could not be fetched or decoded."""


class ClipCache:
    def __init__(self, directory: Path, executor: concurrent.futures.Executor | None = None) -> None:
        self.directory = directory
        self._executor = executor
        self._renders: dict[str, asyncio.Future[Path]] = {}

    @staticmethod
    def key(prompt: str, width: int, height: int, fps: int, seconds: int, keyframe_url: str | None) -> str:
        return clip_cache_key(prompt, width, height, fps, seconds, keyframe_url or "")

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.mp4"

    async def ensure(
        self,
        key: str,
        prompt: str,
        *,
        width: int,
        height: int,
        fps: int,
        seconds: int,
        keyframe_url: str | None,
        http: httpx.AsyncClient,
    ) -> Path:
        """The clip's path, rendering it first unless it is on disk already."""
        path = self.path(key)
        if path.exists():
            return path
        render = self._renders.get(key)
        if render is None:
            clip = functools.partial(
                render_clip_atomically, prompt, path, width=width, height=height, fps=fps, seconds=seconds
            )
            render = asyncio.ensure_future(self._render(clip, keyframe_url, http))
            self._renders[key] = render
            render.add_done_callback(lambda _: self._renders.pop(key, None))
        # Shielded: a deleted generation must not cancel a render another one shares.
        return await asyncio.shield(render)

    async def _render(
        self, clip: functools.partial[Path], keyframe_url: str | None, http: httpx.AsyncClient
    ) -> Path:
        """``clip`` (a render waiting for its keyframe) run in the executor."""
        self.directory.mkdir(parents=True, exist_ok=True)
        keyframe = await self._fetch_keyframe(keyframe_url, http) if keyframe_url else None
        job = functools.partial(clip, keyframe=keyframe)
        if self._executor is None:
            return await asyncio.to_thread(job)
        return await asyncio.get_running_loop().run_in_executor(self._executor, job)

    async def _fetch_keyframe(self, url: str, http: httpx.AsyncClient) -> Path:
        digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:32]
        target = self.directory / "keyframes" / digest
        if target.exists():
            return target
        try:
            async with http.stream("GET", url, timeout=KEYFRAME_TIMEOUT_SECONDS) as response:
                if response.status_code != 200:
                    raise KeyframeUnreadable(f"keyframe answered {response.status_code}")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > KEYFRAME_MAX_BYTES:
                        raise KeyframeUnreadable("keyframe too large")
        except httpx.HTTPError as error:
            raise KeyframeUnreadable(type(error).__name__) from error
        await asyncio.to_thread(_check_image, bytes(data))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes(data))
        return target


def _check_image(data: bytes) -> None:
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise KeyframeUnreadable("keyframe is not an image") from error
