"""Our sprite sheet in Phaser (from the npm registry, installed by ``make test`` into
tests/web/node_modules), in Chromium, everything served from loopback: each JSON layout
through ``load.atlas``, the hash and array layouts through ``load.aseprite`` and
``anims.createFromAseprite``, and the animation played through once."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from pixelmotion.media import Animation
from pixelmotion.media.render import write_outputs

if TYPE_CHECKING:
    from playwright.sync_api import Browser

HERE = Path(__file__).resolve().parent
PHASER = HERE / "node_modules" / "phaser" / "dist" / "phaser.min.js"
DELAYS = [40, 60, 80, 100, 40, 60, 120]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Animation]]:
    if not PHASER.exists():
        pytest.fail("Phaser is missing: run `npm ci` in tests/web (make test does)", pytrace=False)
    root = tmp_path_factory.mktemp("phaser")
    frames = np.random.default_rng(7).integers(0, 4, (len(DELAYS), 12, 16), dtype=np.uint8)
    palette = np.array([[0, 0, 0], [255, 0, 77], [41, 173, 255], [255, 241, 232]], dtype=np.uint8)
    animation = Animation(frames, palette, DELAYS, 12, tag_direction="pingpong")
    write_outputs(animation, root, ["sheet", "atlas"], server=False)
    for name in ("index.html", "probe.js"):
        shutil.copy(HERE / "phaser" / name, root / name)
    shutil.copy(PHASER, root / "phaser.min.js")
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", animation
    finally:
        server.shutdown()
        server.server_close()


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
