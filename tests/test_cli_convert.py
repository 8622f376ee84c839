"""``pixelmotion convert``, run as users run it: a real process on a real H.264 clip."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelmotion.media.palettes import PRESETS
from pixelmotion.media.synthetic import make_clip
from tests.images import frame_count, open_image
from tests.media.aseprite_reader import read_aseprite
from tests.processes import PIXELMOTION


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No camera footage ships with the tests (the benchmark's real clips are fetched once by
    ``make bench-clips``); this clip is real H.264 with film-like grain and motion."""
    return make_clip(tmp_path_factory.mktemp("clip") / "camera.mp4", width=320, height=180, fps=24, seconds=2)


def convert(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PIXELMOTION, "convert", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def _colours(path: Path) -> set[str]:
    image = open_image(path).convert("RGB")
    return {f"#{r:02x}{g:02x}{b:02x}" for r, g, b in np.unique(np.asarray(image).reshape(-1, 3), axis=0)}


def test_default_outputs_with_a_progress_bar(clip: Path, tmp_path: Path) -> None:
    done = convert(clip, "-o", tmp_path, "--size", "48x32", "--colors", "8", "--fps", "12")
    assert done.returncode == 0, done.stderr
    assert "converted camera.mp4" in done.stderr and "100%" in done.stderr and "━" in done.stderr
    names = {Path(line).name for line in done.stdout.split()}
    assert names == {"animation.gif", "sheet.png", "sheet.json", "frames.json"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    frames = json.loads((tmp_path / "frames.json").read_text())  # plain JSON, not gzip
    assert (frames["width"], frames["height"], len(frames["frames"])) == (48, 32, 24)
    assert len(frames["palette"]) == 8
    sheet = json.loads((tmp_path / "sheet.json").read_text())
    assert len(sheet["frames"]) == 24 and sheet["meta"]["image"] == "sheet.png"
    assert frame_count(open_image(tmp_path / "animation.gif")) >= 2


def test_every_export_format_with_a_palette_file(clip: Path, tmp_path: Path) -> None:
    colours = ["#140c1c", "#442434", "#30346d", "#d04648", "#6daa2c", "#deeed6"]
    gpl = tmp_path / "hero.gpl"
    rows = [f"{int(c[1:3], 16)} {int(c[3:5], 16)} {int(c[5:7], 16)}" for c in colours]
    gpl.write_text("\n".join(["GIMP Palette", "Name: hero", *rows, ""]))
    out = tmp_path / "out"
    formats = "aseprite,webp,apng,pngs,zip,godot,atlas"
    done = convert(clip, "-o", out, "--size", "32x32", "--fps", "6", "--palette", gpl, "--formats", formats)
    assert done.returncode == 0, done.stderr
    for name in ("animation.aseprite", "animation.webp", "animation.png", "frames.zip", "animation.tres"):
        assert (out / name).stat().st_size > 0, name
    assert len(list((out / "frames").glob("*.png"))) == 12
    assert {"sheet.png", "sheet.hash.json", "sheet.array.json"} <= {p.name for p in out.iterdir()}
    sprite = read_aseprite((out / "animation.aseprite").read_bytes())
    assert ["#{:02x}{:02x}{:02x}".format(*p[:3]) for p in sprite.palette] == colours
    assert len(sprite.durations_ms) == 12
    assert _colours(out / "sheet.png") <= set(colours)
    assert _colours(out / "frames" / "0000.png") <= set(colours)


FOUR = ["#000000", "#ff0000", "#00ff00", "#0000ff"]


def _palette_file(directory: Path, kind: str) -> Path:
    rgb = [(int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)) for c in FOUR]
    path = directory / f"four.{kind}"
    if kind == "hex":
        path.write_text("\n".join(c[1:] for c in FOUR) + "\n")
    elif kind == "pal":
        path.write_text("\r\n".join(["JASC-PAL", "0100", "4", *(f"{r} {g} {b}" for r, g, b in rgb), ""]))
    else:
        swatches = np.repeat(np.array([rgb], dtype=np.uint8), 8, axis=1).repeat(8, axis=0)
        Image.fromarray(swatches, "RGB").save(path)
    return path


@pytest.mark.parametrize("kind", ["preset", "hex list", "hex", "pal", "png"])
def test_every_kind_of_palette(clip: Path, tmp_path: Path, kind: str) -> None:
    allowed = set(PRESETS["endesga-32"]) if kind == "preset" else set(FOUR)
    palette: str | Path = {"preset": "endesga-32", "hex list": ",".join(FOUR)}.get(kind) or _palette_file(
        tmp_path, kind
    )
    out = tmp_path / "out"
    done = convert(
        clip, "-o", out, "--size", "24x24", "--fps", "4", "--palette", palette, "--formats", "sheet"
    )
    assert done.returncode == 0, done.stderr
    sheet = json.loads((out / "sheet.json").read_text())
    assert len(sheet["frames"]) == 8
    used = _colours(out / "sheet.png")
    assert used <= allowed and len(used) > 1


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--size", "0x8"], 2, "width must be an integer from 1 to 1024 (INVALID_OPTIONS)"),
        (["--size", "big"], 2, "WIDTHxHEIGHT"),
        (["--formats", "gif,psd"], 2, "unknown output formats: psd"),
        (["--palette", "#00000g"], 2, "(INVALID_PALETTE)"),
        (["--fit", "zoom"], 2, "(INVALID_OPTIONS)"),
    ],
)
def test_bad_options_exit_2(clip: Path, tmp_path: Path, args: list[str], status: int, message: str) -> None:
    done = convert(clip, "-o", tmp_path, *args)
    assert done.returncode == status
    assert message in done.stderr
    assert not any(tmp_path.iterdir())


def test_an_unreadable_input_has_a_coded_message(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    done = convert(junk, "-o", tmp_path / "out")
    assert done.returncode == 1
    assert "(VIDEO_UNREADABLE)" in done.stderr and "Traceback" not in done.stderr


def test_background_remove_and_loop_modes(tmp_path: Path) -> None:
    from pixelmotion.providers.emulator.render import render_clip

    keyed = render_clip(
        "a knight on a plain flat #00ff00 background",
        tmp_path / "keyed.mp4",
        width=320,
        height=180,
        seconds=2,
    )
    out = tmp_path / "out"
    common = ["--size", "32x32", "--colors", "8", "--fps", "12", "--formats", "gif,json"]
    done = convert(
        keyed, "-o", out, *common, "--background", "remove", "--key-color", "#00ff00", "--loop", "pingpong"
    )
    assert done.returncode == 0, done.stderr
    frames = json.loads((out / "frames.json").read_text())
    alpha = np.array(frames["frames"][0]["imageData"], dtype=np.uint8).reshape(32, 32, 4)[:, :, 3]
    assert alpha[0, 0] == 0 and (alpha == 255).any()  # a transparent background, an opaque subject
    assert len(frames["frames"]) == 2 * 24 - 2  # forward then back, the end frames not repeated
    assert open_image(out / "animation.gif").info.get("transparency") is not None
    refused = convert(keyed, "-o", out, *common, "--loop", "sideways")
    assert refused.returncode == 2 and "loop" in refused.stderr
