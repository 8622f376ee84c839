"""Canvas choices over real HTTP (issues 13 and 14): a fixed palette from each source, bad
palettes, background removal, loop modes, and every export route."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from pixelmotion.media.palettes import PRESETS
from tests.databases import postgres_schema_url, sqlite_url
from tests.running import Running, start

BASE = {"prompt": "a lantern swinging", "width": 16, "height": 16, "fps": 12, "resolution": "540p"}
FOUR = ["#000000", "#ff0000", "#00ff00", "#ffffff"]
EXPORTS = {
    "animation.aseprite": "application/octet-stream",
    "animation.webp": "image/webp",
    "animation.png": "image/apng",
    "frames.zip": "application/zip",
    "sheet.hash.json": "application/json",
    "sheet.array.json": "application/json",
    "animation.tres": "text/plain",
}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    directory = tmp_path_factory.mktemp("canvas")
    if request.param == "sqlite":
        yield from start(directory, sqlite_url(directory))
    else:
        with postgres_schema_url() as url:
            yield from start(directory, url)


def palette_png(colours: list[str]) -> bytes:
    image = Image.new("RGB", (len(colours) * 4, 4))
    for i, colour in enumerate(colours):
        image.paste(tuple(int(colour[k : k + 2], 16) for k in (1, 3, 5)), (i * 4, 0, i * 4 + 4, 4))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def as_file(data: bytes, filename: str) -> dict[str, str]:
    return {"file": base64.b64encode(data).decode(), "filename": filename}


def rgb_lines(colours: list[str]) -> str:
    return "\n".join(" ".join(str(int(c[k : k + 2], 16)) for k in (1, 3, 5)) for c in colours)


PALETTES: dict[str, tuple[Any, list[str]]] = {
    "preset": ("gameboy", list(PRESETS["gameboy"])),
    "hex text": (", ".join(FOUR), FOUR),
    "hex list": (FOUR, FOUR),
    "gpl": (as_file(f"GIMP Palette\nName: mine\n# four\n{rgb_lines(FOUR)}\n".encode(), "mine.gpl"), FOUR),
    "hex file": (as_file("\n".join(c[1:] for c in FOUR).encode(), "mine.hex"), FOUR),
    "pal": (as_file(f"JASC-PAL\n0100\n4\n{rgb_lines(FOUR)}\n".encode(), "mine.pal"), FOUR),
    "png": (as_file(palette_png(FOUR), "mine.png"), FOUR),
}


def frame_colours(client: httpx.Client, job_id: str) -> set[str]:
    """The opaque colours of every frame, as #rrggbb."""
    seen: set[str] = set()
    for frame in client.get(f"/v1/jobs/{job_id}/frames").json()["frames"]:
        pixels = np.array(frame["imageData"], dtype=np.uint8).reshape(-1, 4)
        seen.update("#{:02x}{:02x}{:02x}".format(*p[:3]) for p in np.unique(pixels[pixels[:, 3] > 0], axis=0))
    return seen


def completed(site: Running, client: httpx.Client, job_id: str) -> dict[str, Any]:
    job = site.wait_for_status(client, job_id, {"completed", "failed", "canceled"})
    assert job["status"] == "completed", job
    return job


def test_every_palette_source_colours_every_frame(site: Running) -> None:
    with site.client() as client:
        ids = {}
        for name, (palette, _) in PALETTES.items():
            created = client.post("/v1/jobs", json={**BASE, "palette": palette})
            assert created.status_code == 202, (name, created.text)
            ids[name] = created.json()["jobId"]
        for name, (_, colours) in PALETTES.items():
            job = completed(site, client, ids[name])
            assert job["palette"] == colours and job["colorCount"] == len(colours), name
            used = frame_colours(client, ids[name])
            assert used and used <= set(colours), (name, used - set(colours))
        # paletteFrom: the palette of an earlier job of the caller's
        again = client.post("/v1/jobs", json={**BASE, "colorCount": 16, "paletteFrom": ids["gpl"]})
        assert again.status_code == 202, again.text
        job = completed(site, client, again.json()["jobId"])
        assert job["palette"] == FOUR and job["colorCount"] == 4  # the palette wins over colorCount
        assert frame_colours(client, job["jobId"]) <= set(FOUR)
    with site.client("bob") as bob:  # alice's job is no palette for bob
        refused = bob.post("/v1/jobs", json={**BASE, "paletteFrom": ids["gpl"]})
        assert refused.status_code == 422 and "paletteFrom" in refused.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("extra", "code", "field"),
    [
        ({"palette": "no-such-palette"}, "INVALID_PALETTE", "palette"),
        ({"palette": []}, "INVALID_PALETTE", "palette"),
        ({"palette": ["#12345g"]}, "INVALID_PALETTE", "palette"),
        ({"palette": [f"#{i:06x}" for i in range(300)]}, "INVALID_PALETTE", "palette"),
        ({"palette": as_file(b"GIMP Palette\n1 2\n", "bad.gpl")}, "INVALID_PALETTE", "palette"),
        ({"palette": {"file": "not base64!", "filename": "x.hex"}}, "INVALID_PALETTE", "palette.file"),
        ({"palette": as_file(b"0" * 70_000, "big.hex")}, "INVALID_PALETTE", "palette.file"),
        (
            {"palette": "pico8", "paletteFrom": "3f2b8c1e-5d4a-4e8b-9c7d-2a1f0e6b9d55"},
            "INVALID_REQUEST",
            "paletteFrom",
        ),
        ({"colorCount": None}, "INVALID_REQUEST", "colorCount"),
        ({"colorCount": 4, "keyColor": "#00ff00"}, "INVALID_REQUEST", "keyColor"),
        ({"colorCount": 4, "fit": "subject"}, "INVALID_REQUEST", "fit"),
        ({"colorCount": 4, "loop": "sideways"}, "INVALID_REQUEST", "loop"),
    ],
)
def test_bad_canvas_options_are_coded_422s(
    site: Running, extra: dict[str, Any], code: str, field: str
) -> None:
    body = {key: value for key, value in {**BASE, **extra}.items() if value is not None}
    with site.client() as client:
        answer = client.post("/v1/jobs", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and any(name.startswith(field) for name in error["fields"]), error


def test_background_remove_gives_transparent_pixels_and_asks_for_a_keyed_scene(site: Running) -> None:
    body = {**BASE, "width": 32, "height": 32, "colorCount": 8, "background": "remove", "loop": "trim"}
    with site.client() as client:
        job = completed(site, client, client.post("/v1/jobs", json=body).json()["jobId"])
        assert job["background"] == "remove" and job["transparentIndex"] == 0 and job["keyColor"]
        assert job["loop"] == "trim" and isinstance(job["seam"], float)
        sheet = Image.open(io.BytesIO(client.get(f"/v1/jobs/{job['jobId']}/sheet.png").content))
        alpha = np.asarray(sheet.convert("RGBA"))[:, :, 3]
        assert alpha[0, 0] == 0 and alpha[0, -1] == 0  # the background corners
        assert (alpha == 255).any() and set(np.unique(alpha).tolist()) <= {0, 255}
        gif = Image.open(io.BytesIO(client.get(f"/v1/jobs/{job['jobId']}/animation.gif").content))
        assert gif.info.get("transparency") is not None
        assert np.asarray(gif.convert("RGBA"))[0, 0, 3] == 0
    row = site.services.repository.jobs.get(job["jobId"])
    assert row is not None and row.luma_generation_id
    generation = httpx.get(
        f"{site.settings.emulator_base_url}/generations/{row.luma_generation_id}",
        headers={"Authorization": f"Bearer {site.settings.emulator_api_key}"},
        timeout=10,
    ).json()
    assert "#00ff00 background" in generation["request"]["prompt"]
    assert generation["request"]["concepts"] == [{"key": "static"}]
    assert generation["request"]["loop"] is True  # Luma's own flag, for loop "trim"


def test_loop_booleans_still_read(site: Running) -> None:
    with site.client() as client:
        job_id = client.post("/v1/jobs", json={**BASE, "colorCount": 4, "loop": True}).json()["jobId"]
        assert client.get(f"/v1/jobs/{job_id}").json()["loop"] == "trim"
        job_id = client.post("/v1/jobs", json={**BASE, "colorCount": 4, "loop": False}).json()["jobId"]
        assert client.get(f"/v1/jobs/{job_id}").json()["loop"] == "none"


def test_every_export_is_served_to_its_owner_only(site: Running) -> None:
    with site.client() as client:
        job = completed(site, client, client.post("/v1/jobs", json={**BASE, "colorCount": 4}).json()["jobId"])
        for name, media_type in EXPORTS.items():
            url = f"/v1/jobs/{job['jobId']}/{name}"
            assert url in job["outputs"].values(), name
            served = client.get(url)
            assert served.status_code == 200 and served.content, name
            assert served.headers["content-type"].startswith(media_type), (name, served.headers)
    with site.client("bob") as bob:
        for name in EXPORTS:
            assert bob.get(f"/v1/jobs/{job['jobId']}/{name}").status_code == 404
