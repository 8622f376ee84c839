"""The result's preview (``player.js``): a job with a transparent palette entry shows its
transparent pixels over a checkerboard, and a trimmed loop says how big its seam is."""

from __future__ import annotations

import base64
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from tests.running import Running
from tests.web.conftest import (
    REQUIRE_BROWSER,
    FinishedJobs,
    NewContext,
    PageErrors,
    screenshot,
    stand_in_for_job,
)

if not REQUIRE_BROWSER:
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

# The frame the canvas shows: its number, its size and how many of its pixels are clear.
ALPHA_STATS = """() => {
  const canvas = document.querySelector('#player');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let clear = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] === 0) clear += 1;
  return {clear, pixels: data.length / 4, width: canvas.width, frame: Number(canvas.dataset.frame)};
}"""


def open_job(
    new_context: NewContext, site: Running, errors: PageErrors, user: str, job: dict[str, Any]
) -> Page:
    """The page showing ``job`` (a stand-in for its GET; its frames are the real job's)."""
    page = errors.watch(new_context().new_page())
    stand_in_for_job(page, job)
    page.goto(f"{site.url}/?token={site.token(user)}")
    item = page.locator(f'.history-item[data-job-id="{job["jobId"]}"]')
    item.locator(".item-open").click()
    expect(page.locator("#result-panel")).to_be_visible()
    return page


def indexed_frames(site: Running, user: str, job_id: str) -> list[bytes]:
    """The real job's frames as palette indices, one byte a pixel."""
    with site.client(user) as api:
        indexed = api.get(f"/v1/jobs/{job_id}/frames", params={"format": "indexed"}).json()
    return [base64.b64decode(frame) for frame in indexed["frames"]]


def test_transparent_pixels_show_the_checkerboard_and_the_seam_is_told(
    new_context: NewContext, site: Running, page_errors: PageErrors, finished_jobs: FinishedJobs
) -> None:
    real = finished_jobs.job
    frames = indexed_frames(site, finished_jobs.user, real["jobId"])
    index = Counter(frames[0]).most_common(1)[0][0]  # an entry surely in use
    job = {**real, "background": "remove", "transparentIndex": index, "loop": "trim", "seam": 0.7}
    page = open_job(new_context, site, page_errors, finished_jobs.user, job)

    page.locator("#play").click()
    stats = page.evaluate(ALPHA_STATS)
    zoom = stats["width"] // 16
    # Exactly the pixels of the transparent entry are clear, each a zoom × zoom square.
    expected = frames[stats["frame"]].count(index) * zoom * zoom
    assert stats["clear"] == expected, stats
    assert 0 < stats["clear"] < stats["pixels"], stats
    # Under the canvas: a checkerboard, so the clear pixels read as transparent.
    background = page.locator("#player").evaluate("c => getComputedStyle(c).backgroundImage")
    assert background.count("linear-gradient") == 2
    expect(page.locator("#loop-info")).to_have_text("Loop seam: 0.70× a normal frame step.")
    screenshot(page, "player-transparent")
    assert page_errors.messages == []


def test_a_ping_pong_job_says_so_and_an_opaque_one_has_no_clear_pixel(
    new_context: NewContext, site: Running, page_errors: PageErrors, finished_jobs: FinishedJobs
) -> None:
    job = {**finished_jobs.job, "loop": "pingpong", "seam": None, "transparentIndex": None}
    page = open_job(new_context, site, page_errors, finished_jobs.user, job)
    expect(page.locator("#loop-info")).to_have_text("Plays forward, then back.")
    assert page.evaluate(ALPHA_STATS)["clear"] == 0
    assert page_errors.messages == []
