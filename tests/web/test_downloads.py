"""The download buttons (``downloads.js``): one for each output the job has, and no other."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.running import Running
from tests.web.conftest import REQUIRE_BROWSER, FinishedJobs, NewContext, PageErrors, screenshot
from tests.web.test_player import open_job

if not REQUIRE_BROWSER:
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

EVERY_OUTPUT = {
    "gif",
    "sheet",
    "sheetJson",
    "frames",
    "aseprite",
    "webp",
    "apng",
    "zip",
    "sheetHash",
    "sheetArray",
    "godot",
}


def offered(page: Page) -> set[str]:
    names: list[str] = page.locator(".downloads button[data-output]:visible").evaluate_all(
        "els => els.map(e => e.dataset.output)"
    )
    return set(names)


def test_the_buttons_match_the_outputs(
    new_context: NewContext, site: Running, page_errors: PageErrors, finished_jobs: FinishedJobs
) -> None:
    real = finished_jobs.job
    base = f"/v1/jobs/{real['jobId']}"
    exports = {
        "aseprite": f"{base}/animation.aseprite",
        "godot": f"{base}/animation.tres",
        "zip": f"{base}/frames.zip",
    }
    # A job with some of the outputs only (the worker now writes every export, so some are
    # left out here): the page offers exactly those it lists.
    left_out = {"webp", "apng", "sheetHash", "sheetArray"}
    kept = {name: url for name, url in real["outputs"].items() if name not in left_out}
    job = {**real, "outputs": {**kept, **exports}}
    page = open_job(new_context, site, page_errors, finished_jobs.user, job)
    shown = set(job["outputs"]) - {"indexed"}  # the compact frames are the preview's, not a download
    expect(page.locator("#download-godot")).to_be_visible()
    assert offered(page) == shown
    assert shown < EVERY_OUTPUT
    screenshot(page, "downloads-some")

    # A real output, saved under the job's prefix.
    with page.expect_download() as gif:
        page.locator("#download-gif").click()
    assert gif.value.suggested_filename == f"pixelmotion-{real['jobId'][:8]}-animation.gif"
    assert gif.value.path().read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    assert page_errors.messages == []


def test_every_output_gets_its_button(
    new_context: NewContext, site: Running, page_errors: PageErrors, finished_jobs: FinishedJobs
) -> None:
    real = finished_jobs.job
    outputs = {name: f"/v1/jobs/{real['jobId']}/{name}" for name in EVERY_OUTPUT}
    page = open_job(new_context, site, page_errors, finished_jobs.user, {**real, "outputs": outputs})
    expect(page.locator("#download-sheet-array")).to_be_visible()
    assert offered(page) == EVERY_OUTPUT
    labels = page.locator(".downloads button:visible").all_inner_texts()
    assert "Godot SpriteFrames (.tres)" in labels and "TexturePacker JSON (hash)" in labels
    assert page_errors.messages == []
