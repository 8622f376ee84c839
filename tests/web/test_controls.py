"""Re-rendering a finished job (``controls.js``): the canvas controls open with the job's
values, the page POSTs them to /v1/jobs/{id}/renders, and the list links a re-render to the
job it was made from."""

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
    from playwright.sync_api import Request


def test_rerender_posts_the_prefilled_values_and_links_the_parent(
    new_context: NewContext, site: Running, page_errors: PageErrors, finished_jobs: FinishedJobs
) -> None:
    parent, real = finished_jobs.parent, finished_jobs.job
    job = {
        **real,
        "palette": "gameboy",
        "background": "remove",
        "keyColor": "#00ff00",
        "fit": "subject",
        "loop": "pingpong",
        "dither": "bayer",
        "parentJobId": parent["jobId"],
    }
    page = open_job(new_context, site, page_errors, finished_jobs.user, job)

    # The list says what it was made from, and the link opens that job.
    item = page.locator(f'.history-item[data-job-id="{real["jobId"]}"]')
    expect(item.locator(".item-parent")).to_have_text(f"Re-render of {parent['prompt']}")

    page.locator("#rerender").click()
    expect(page.locator("#create-title")).to_have_text("Re-render")
    expect(page.locator("#render-of")).to_contain_text(real["prompt"])
    expect(page.locator("#prompt-field")).to_be_hidden()
    expect(page.locator("#source-field")).to_be_hidden()
    expect(page.locator("#size-16")).to_be_checked()
    expect(page.locator("#palette-mode-preset")).to_be_checked()
    expect(page.locator("#palette-preset-gameboy")).to_be_checked()
    expect(page.locator("#colors")).to_be_disabled()
    expect(page.locator("#colors")).to_have_value("4")
    expect(page.locator("#background")).to_have_value("remove")
    expect(page.locator("#key-own")).to_be_checked()
    expect(page.locator("#key-color")).to_have_value("#00ff00")
    expect(page.locator("#fit")).to_have_value("subject")
    expect(page.locator("#loop")).to_have_value("pingpong")
    expect(page.locator("#dither")).to_have_value("bayer")
    expect(page.locator("#fps")).to_have_value("12")
    expect(page.locator("#generate")).to_have_text("Re-render (no new clip, no cost)")
    screenshot(page, "rerender-form")

    page.locator("#fps").select_option("24")

    def is_render(request: Request) -> bool:
        return request.method == "POST" and request.url.endswith(f"/v1/jobs/{real['jobId']}/renders")

    with page.expect_request(is_render) as request:
        page.locator("#generate").click()
    assert request.value.post_data_json == {
        "width": 16,
        "height": 16,
        "palette": "gameboy",
        "fps": 24,
        "dither": "bayer",
        "fit": "subject",
        "background": "remove",
        "loop": "pingpong",
        "keyColor": "#00ff00",
    }
    expect(page.locator("#generate")).to_be_enabled()

    # Back to a new animation (if the server has not started the re-render already).
    if page.locator("#render-close").is_visible():
        page.locator("#render-close").click()
    expect(page.locator("#prompt-field")).to_be_visible()
    expect(page.locator("#create-title")).to_have_text("New animation")

    item.locator(".item-parent button").click()
    expect(page.locator("#progress-panel")).to_have_attribute("data-job-id", parent["jobId"])
    # Until the API has its renders route, the browser logs the server's refusal of the POST.
    assert [m for m in page_errors.messages if "renders" not in m and "status of 40" not in m] == []
