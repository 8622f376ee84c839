"""The palette picker and the canvas controls (``palette.js``, ``controls.js``) in a real
browser: what each choice puts in the request the page sends to the real server."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image

from pixelmotion.media.palettes import PRESETS
from tests.running import Running
from tests.web.conftest import REQUIRE_BROWSER, FinishedJobs, NewContext, PageErrors, screenshot

if not REQUIRE_BROWSER:
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request


def is_create(request: Request) -> bool:
    return request.method == "POST" and request.url.endswith("/v1/jobs")


def sent_body(page: Page) -> dict[str, Any]:
    """Submit the form and read the body of the POST /v1/jobs it sends (to the real server)."""
    with page.expect_request(is_create) as request:
        page.locator("#generate").click()
    body = request.value.post_data_json
    assert isinstance(body, dict), body
    # The answer is the server's; the form is ready for the next request once it came.
    expect(page.locator("#generate")).to_be_enabled()
    return body


def open_page(new_context: NewContext, site: Running, errors: PageErrors, user: str) -> Page:
    page = errors.watch(new_context().new_page())
    page.goto(f"{site.url}/?token={site.token(user)}")
    expect(page.locator("#app")).to_be_visible()
    page.locator("#prompt").fill("a slime bouncing")
    page.locator('label[for="size-16"]').click()
    return page


def unexpected(errors: PageErrors) -> list[str]:
    """Console errors, less the browser's own line for a refused request: until the server
    takes every new field, it answers the form with a coded 422, which the form shows."""
    return [m for m in errors.messages if "status of 422" not in m]


def swatches(page: Page, preview: str) -> list[str]:
    colors: list[str] = page.locator(f"{preview} .swatch").evaluate_all(
        "els => els.map(e => e.dataset.color)"
    )
    return colors


def test_a_preset_pasted_hex_and_a_palette_file_are_sent(
    new_context: NewContext,
    site: Running,
    page_errors: PageErrors,
    finished_jobs: FinishedJobs,
    tmp_path: Path,
) -> None:
    page = open_page(new_context, site, page_errors, finished_jobs.user)
    colors = page.locator("#colors")

    # No palette: the colour count is the user's.
    assert sent_body(page)["colorCount"] == 16

    # A preset: each shown as a row of its colours; the count is locked to its size.
    page.locator('label[for="palette-mode-preset"]').click()
    presets = page.locator("#palette-preset label.preset")
    expect(presets).to_have_count(len(PRESETS))
    gameboy = page.locator('label[for="palette-preset-gameboy"]')
    assert gameboy.locator(".swatch").evaluate_all("els => els.map(e => e.dataset.color)") == [
        "#0f380f",
        "#306230",
        "#8bac0f",
        "#9bbc0f",
    ]
    gameboy.click()
    expect(colors).to_be_disabled()
    expect(colors).to_have_value("4")
    body = sent_body(page)
    assert body["palette"] == "gameboy" and "colorCount" not in body
    screenshot(page, "palette-preset")

    # Pasted hex: previewed as typed; a bad colour is named and nothing is sent.
    page.locator('label[for="palette-mode-hex"]').click()
    page.locator("#palette-hex").fill("#123, abcdef\nzz")
    expect(page.locator("#palette-hex-error")).to_have_text('"zz" is not a colour: use #rrggbb or #rgb.')
    page.locator("#generate").click()
    expect(page.locator("#form-error")).to_have_text('"zz" is not a colour: use #rrggbb or #rgb.')
    expect(page.locator("#palette-hex")).to_have_attribute("aria-invalid", "true")
    page.locator("#palette-hex").fill("#123, abcdef\n#ABCDEF")
    expect(page.locator("#palette-hex-error")).to_be_hidden()
    assert swatches(page, "#palette-hex-preview") == ["#112233", "#abcdef"]
    expect(colors).to_have_value("2")
    body = sent_body(page)
    assert body["palette"] == ["#112233", "#abcdef"] and "colorCount" not in body

    # A GIMP palette file: sent as it is, base64, with its name; previewed from its lines.
    gpl = tmp_path / "knight.gpl"
    gpl.write_text(
        "GIMP Palette\nName: knight\nColumns: 3\n#\n  0   0   0\tblack\n255 128  0\torange\n 17  34 51\n"
    )
    page.locator('label[for="palette-mode-file"]').click()
    page.locator("#palette-file").set_input_files(str(gpl))
    expect(page.locator("#palette-file-preview .swatch")).to_have_count(3)
    assert swatches(page, "#palette-file-preview") == ["#000000", "#ff8000", "#112233"]
    expect(colors).to_have_value("3")
    body = sent_body(page)
    assert body["palette"] == {"file": base64.b64encode(gpl.read_bytes()).decode(), "filename": "knight.gpl"}
    assert "colorCount" not in body

    # A .hex list and a JASC .pal: each previewed from its own layout, each sent as it is.
    for name, text, preview in (
        ("lospec.hex", "1a1c2c\r\nF4F4F4\r\n", ["#1a1c2c", "#f4f4f4"]),
        ("paint.pal", "JASC-PAL\n0100\n2\n255 0 0\n0 0 255\n", ["#ff0000", "#0000ff"]),
    ):
        path = tmp_path / name
        path.write_bytes(text.encode())
        page.locator("#palette-file").set_input_files(str(path))
        # Wait for this file's colours (the one before also had two).
        expect(page.locator("#palette-file-preview .swatch").first).to_have_attribute(
            "data-color", preview[0]
        )
        assert swatches(page, "#palette-file-preview") == preview
        assert sent_body(page)["palette"] == {
            "file": base64.b64encode(text.encode()).decode(),
            "filename": name,
        }

    # A PNG of swatches: its distinct opaque colours are previewed.
    png = tmp_path / "swatches.png"
    image = Image.new("RGB", (4, 1))
    image.putdata([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 0, 0)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    png.write_bytes(buffer.getvalue())
    page.locator("#palette-file").set_input_files(str(png))
    expect(page.locator("#palette-file-preview .swatch")).to_have_count(3)
    assert sent_body(page)["palette"] == {
        "file": base64.b64encode(png.read_bytes()).decode(),
        "filename": "swatches.png",
    }

    # An earlier job's palette: picked from the user's finished jobs.
    page.locator('label[for="palette-mode-job"]').click()
    page.locator("#palette-job").select_option(finished_jobs.parent["jobId"])
    body = sent_body(page)
    assert body["paletteFrom"] == finished_jobs.parent["jobId"] and "palette" not in body
    assert "colorCount" not in body

    # Back to the clip's own colours: the user's count comes back.
    page.locator('label[for="palette-mode-auto"]').click()
    expect(colors).to_be_enabled()
    expect(colors).to_have_value("16")
    assert unexpected(page_errors) == []


def test_background_fit_and_loop_are_sent(
    new_context: NewContext, site: Running, page_errors: PageErrors, finished_jobs: FinishedJobs
) -> None:
    page = open_page(new_context, site, page_errors, finished_jobs.user)
    # At their defaults they are left to the server's defaults.
    body = sent_body(page)
    assert "background" not in body and "loop" not in body and body["fit"] == "crop"

    subject = page.locator('#fit option[value="subject"]')
    expect(subject).to_be_disabled()
    expect(page.locator("#key-field")).to_be_hidden()
    page.locator("#background").select_option("remove")
    expect(subject).to_be_enabled()
    expect(page.locator("#key-field")).to_be_visible()
    expect(page.locator("#key-color")).to_be_disabled()
    page.locator("#fit").select_option("subject")
    page.locator("#loop").select_option("pingpong")
    body = sent_body(page)
    assert (body["background"], body["fit"], body["loop"]) == ("remove", "subject", "pingpong")
    assert "keyColor" not in body  # estimated from the clip

    page.locator("#key-own").check()
    page.locator("#key-color").fill("#00ff00")
    page.locator("#loop").select_option("trim")
    body = sent_body(page)
    assert (body["keyColor"], body["loop"]) == ("#00ff00", "trim")
    screenshot(page, "background-remove")

    # Keeping the background again: "subject" cannot stay chosen.
    page.locator("#background").select_option("keep")
    expect(page.locator("#fit")).to_have_value("crop")
    expect(subject).to_be_disabled()
    assert unexpected(page_errors) == []
