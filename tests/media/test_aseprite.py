"""``animation.aseprite`` read back by an independent reader written from the public spec."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tests.media.aseprite_reader import read_aseprite

from pixelmotion.media import Animation, MediaError, pixelate_video
from pixelmotion.media.aseprite import aseprite_bytes
from pixelmotion.media.render import write_outputs


def _pixels(sprite_cel: tuple[int, int, int, int, bytes]) -> np.ndarray:
    x, y, w, h, data = sprite_cel
    assert (x, y) == (0, 0)
    return np.frombuffer(data, dtype=np.uint8).reshape(h, w)


@pytest.fixture(scope="module")
def animation(clip: Path) -> Animation:
    return pixelate_video(clip, width=24, height=16, colors=16, fps=12, palette="dawnbringer-16")


def test_the_file_reads_back_whole(animation: Animation, tmp_path: Path) -> None:
    files = write_outputs(animation, tmp_path, ["aseprite"])
    sprite = read_aseprite((tmp_path / files["aseprite"]).read_bytes())
    assert (sprite.width, sprite.height, sprite.depth) == (24, 16, 8)
    assert sprite.color_count == 16
    assert [p[:3] for p in sprite.palette] == [tuple(c) for c in animation.palette.tolist()]
    assert sprite.old_palette == [tuple(c) for c in animation.palette.tolist()]
    assert sprite.durations_ms == animation.delays_ms and len(sprite.durations_ms) == 24
    assert len(sprite.layers) == 1 and sprite.layers[0].flags & 8  # opaque: a background layer
    assert [(t.name, t.start, t.end, t.direction) for t in sprite.tags] == [("animation", 0, 23, "forward")]
    for i, cels in enumerate(sprite.cels):
        assert np.array_equal(_pixels(cels[0]), animation.frames[i])


@pytest.mark.parametrize("direction", ["reverse", "pingpong"])
def test_transparent_index_and_direction(direction: str) -> None:
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 4, (3, 5, 7), dtype=np.uint8)
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
    data = aseprite_bytes(frames, palette, [100, 50, 250], transparent_index=2, direction=direction)
    sprite = read_aseprite(data)
    assert sprite.transparent_index == 2
    assert not sprite.layers[0].flags & 8  # a normal layer: index 2 shows as transparent
    assert sprite.tags[0].direction == direction and (sprite.tags[0].start, sprite.tags[0].end) == (0, 2)
    assert sprite.durations_ms == [100, 50, 250]
    assert all(np.array_equal(_pixels(sprite.cels[i][0]), frames[i]) for i in range(3))


def test_a_full_256_colour_palette() -> None:
    palette = np.stack([np.arange(256)] * 3, axis=1).astype(np.uint8)
    frames = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    sprite = read_aseprite(aseprite_bytes(frames, palette, [40]))
    assert sprite.color_count == 256 and len(sprite.palette) == 256 and len(sprite.old_palette) == 256


def test_bad_direction_and_index_are_refused() -> None:
    frames = np.zeros((1, 2, 2), dtype=np.uint8)
    palette = np.zeros((2, 3), dtype=np.uint8)
    with pytest.raises(MediaError):
        aseprite_bytes(frames, palette, [10], direction="sideways")
    with pytest.raises(MediaError):
        aseprite_bytes(frames, palette, [10], transparent_index=5)


NODE_MODULES = Path(__file__).resolve().parents[1] / "web" / "node_modules"


def test_the_npm_reader_ase_parser_reads_it_too(tmp_path: Path) -> None:
    """A second, maintained reader (npm's ase-parser, installed by ``make test`` next to Phaser)."""
    if not (NODE_MODULES / "ase-parser").exists():
        pytest.fail("ase-parser is missing: run `npm ci` in tests/web (make test does)", pytrace=False)
    rng = np.random.default_rng(9)
    frames = rng.integers(0, 5, (4, 6, 9), dtype=np.uint8)
    palette = np.array([[0, 0, 0], [255, 0, 77], [41, 173, 255], [255, 241, 232], [9, 8, 7]], dtype=np.uint8)
    path = tmp_path / "a.aseprite"
    path.write_bytes(
        aseprite_bytes(frames, palette, [100, 120, 80, 60], transparent_index=4, direction="pingpong")
    )
    script = Path(__file__).with_name("read_aseprite.js")
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    done = subprocess.run(
        ["node", str(script), str(path)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout)
    assert (read["width"], read["height"], read["depth"], read["transparentIndex"]) == (9, 6, 8, 4)
    assert read["durations"] == [100, 120, 80, 60]
    assert read["palette"] == palette.tolist()
    assert read["layers"] == [{"name": "Layer 1", "background": False}]
    assert read["tags"] == [{"name": "animation", "from": 0, "to": 3, "direction": "Ping-pong"}]
    assert read["cels"] == [frame.reshape(-1).tolist() for frame in frames]
