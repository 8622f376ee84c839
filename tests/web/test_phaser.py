"""Our sprite sheet in Phaser (from the npm registry, installed by ``make test`` into
tests/web/node_modules), in Chromium, everything served from loopback: each JSON layout
through ``load.atlas``, the hash and array layouts through ``load.aseprite`` and
``anims.createFromAseprite``, and the animation played through once; and a sheet rendered
from an emulator key-colour clip with its background removed, whose every frame's pixel alpha
Phaser reads back."""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from pixelmotion.media import Animation
from pixelmotion.media.render import render_outputs, write_outputs
from pixelmotion.providers.emulator.render import render_clip

if TYPE_CHECKING:
    from playwright.sync_api import Browser

HERE = Path(__file__).resolve().parent
PHASER = HERE / "node_modules" / "phaser" / "dist" / "phaser.min.js"
DELAYS = [40, 60, 80, 100, 40, 60, 120]
KEY_PROMPT = "a small knight walking in place, on a plain flat green (#00ff00) background, static camera"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _served(root: Path, pages: tuple[str, ...]) -> Iterator[str]:
    """``root`` with Phaser and our ``pages`` (from tests/web/phaser) on loopback: its base URL."""
    if not PHASER.exists():
        pytest.fail("Phaser is missing: run `npm ci` in tests/web (make test does)", pytrace=False)
    for name in pages:
        shutil.copy(HERE / "phaser" / name, root / name)
    shutil.copy(PHASER, root / "phaser.min.js")
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Animation]]:
    root = tmp_path_factory.mktemp("phaser")
    frames = np.random.default_rng(7).integers(0, 4, (len(DELAYS), 12, 16), dtype=np.uint8)
    palette = np.array([[0, 0, 0], [255, 0, 77], [41, 173, 255], [255, 241, 232]], dtype=np.uint8)
    animation = Animation(frames, palette, DELAYS, 12, tag_direction="pingpong")
    write_outputs(animation, root, ["sheet", "atlas"], server=False)
    with _served(root, ("index.html", "probe.js")) as url:
        yield url, animation


@pytest.fixture(scope="module")
def keyed_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, np.ndarray, int]]:
    """A 32×32 sheet from a 1 s key-colour clip through the worker's own call with the
    background removed: its URL, our frames' indices (from the indexed frames JSON, cut to the
    sheet's frames: it holds the played order, a pingpong doubled) and the transparent index."""
    root = tmp_path_factory.mktemp("phaser-keyed")
    clip = render_clip(KEY_PROMPT, root / "clip.mp4", width=160, height=120, fps=12, seconds=1)
    site = root / "site"
    summary = render_outputs(
        clip, site, width=32, height=32, colors=8, fps=12, formats=["sheet", "atlas"], background="remove"
    )
    indexed = json.loads(gzip.decompress((site / summary["files"]["indexed"]).read_bytes()))
    frames = np.stack(
        [
            np.frombuffer(base64.b64decode(data), dtype=np.uint8).reshape(indexed["height"], indexed["width"])
            for data in indexed["frames"]
        ]
    )
    count = len(json.loads((site / summary["files"]["sheetJson"]).read_text())["frames"])
    with _served(site, ("alpha.html", "alpha.js")) as url:
        yield url, frames[:count], summary["transparentIndex"]


def test_phaser_loads_each_layout_and_plays_our_frames(
    site: tuple[str, Animation], bare_browser: Browser
) -> None:
    url, animation = site
    context = bare_browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.goto(f"{url}/index.html")
        page.wait_for_function("window.probe && window.probe.ready", timeout=20_000)
        # Played through once (repeat 0): 7 frames forward and back in about a second.
        page.wait_for_function("window.probe.complete", timeout=20_000)
        probe = page.evaluate("window.probe")
    finally:
        context.close()
    assert errors == [] and probe["errors"] == []
    count = len(DELAYS)
    _, h, w = animation.frames.shape
    for key in ("default", "hash", "array"):
        frames = probe["atlas"][key]
        assert len(frames) == count
        assert [f["duration"] for f in frames] == DELAYS
        assert all(f["rect"]["w"] == w and f["rect"]["h"] == h for f in frames)
        assert probe["atlasAnims"][key]["durations"] == DELAYS
    assert [f["name"] for f in probe["atlas"]["hash"]] == [str(i) for i in range(count)]
    for layout in ("hash", "array"):
        made = probe["aseprite"][layout]
        assert len(made) == 1
        assert made[0]["key"] == "animation"
        assert made[0]["frames"] == [str(i) for i in range(count)]
        assert made[0]["durations"] == DELAYS
        assert made[0]["yoyo"] is True  # our tag's pingpong direction
    # Every frame was shown, in order, then back (yoyo).
    shown = [int(name) for name in probe["shown"]]
    assert shown[:count] == list(range(count))
    assert shown[count:] == list(range(count - 2, -1, -1))


def test_phaser_sees_our_removed_background_transparent_and_the_subject_opaque(
    keyed_site: tuple[str, np.ndarray, int], bare_browser: Browser
) -> None:
    url, indices, transparent = keyed_site
    context = bare_browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
        page.goto(f"{url}/alpha.html")
        page.wait_for_function("window.alphaProbe && window.alphaProbe.ready", timeout=20_000)
        probe = page.evaluate("window.alphaProbe")
    finally:
        context.close()
    assert errors == [] and probe["errors"] == []
    background = indices == transparent
    # The clip has both: a subject on the key colour in every frame.
    assert background.any(axis=(1, 2)).all() and (~background).any(axis=(1, 2)).all()
    for key in ("default", "hash", "array"):
        frames = probe["layouts"][key]
        # Every frame of the sheet, each once: "frame_0000"… in sheet.json, "0"… in the others.
        numbers = sorted(int(frame["name"].removeprefix("frame_")) for frame in frames)
        assert numbers == list(range(len(indices)))
        for frame in frames:
            i = int(frame["name"].removeprefix("frame_"))
            assert (frame["width"], frame["height"]) == (32, 32)
            alpha = np.array(frame["alpha"], dtype=np.int64).reshape(32, 32)
            assert (alpha[background[i]] == 0).all(), (key, frame["name"])
            assert (alpha[~background[i]] == 255).all(), (key, frame["name"])
