"""The page in a real browser: generate, watch, play, download; leave and come back; a failure;
the Korean page on a phone-sized screen."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pixelmotion.providers.emulator import render_clip
from tests.running import Running
from tests.web.conftest import REQUIRE_BROWSER, NewContext, PageErrors, screenshot

if not REQUIRE_BROWSER:
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

ACTIVE = re.compile(r"^(pending|queued|dreaming|processing)$")

# What the canvas shows: its size, how many pixels are drawn and how many colours they use.
CANVAS_STATS = """() => {
  const canvas = document.querySelector('#player');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let opaque = 0;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0) opaque += 1;
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  }
  return {width: canvas.width, height: canvas.height, pixels: data.length / 4, opaque,
          colours: colours.size, frame: Number(canvas.dataset.frame),
          frames: Number(canvas.dataset.frames)};
}"""


def user() -> str:
    return f"web-{uuid.uuid4().hex[:8]}"


def open_page(new_context: NewContext, site: Running, errors: PageErrors, **context: Any) -> Page:
    page = errors.watch(new_context(**context).new_page())
    page.goto(f"{site.url}/?token={site.token(user())}")
    expect(page.locator("#app")).to_be_visible()
    return page


def generate(page: Page, prompt: str, size: str = "32") -> None:
    page.locator("#prompt").fill(prompt)
    page.locator(f'label[for="size-{size}"]').click()
    page.locator("#generate").click()


def test_generate_watch_play_and_download(
    new_context: NewContext, site: Running, page_errors: PageErrors
) -> None:
    page = open_page(new_context, site, page_errors)
    assert "token" not in page.url, "the token must leave the address bar"
    assert page.evaluate("() => localStorage.getItem('pixelmotion.token')")

    generate(page, "a knight swinging a sword")
    panel = page.locator("#progress-panel")
    # Progress moves: the model's step, with its words and a part-filled bar, then the end.
    expect(panel).to_have_attribute("data-status", "dreaming")
    expect(page.locator("#status-text")).to_have_text("AI generating... (1-2 min)")
    expect(page.locator("#progress-percent")).to_have_text("60%")
    assert page.locator("#progress-bar").evaluate("bar => bar.value") == 60
    expect(page.locator("#elapsed")).to_contain_text("Elapsed")
    expect(page.locator(".history-item")).to_have_attribute("data-status", ACTIVE)
    screenshot(page, "generate-running")

    expect(page.locator("#result-panel")).to_be_visible(timeout=45_000)
    expect(panel).to_have_attribute("data-status", "completed")
    expect(page.locator("#status-text")).to_have_text("Done!")
    expect(page.locator("#progress-percent")).to_have_text("100%")
    expect(page.locator(".toast.success")).to_contain_text("Your animation is ready")
    expect(page.locator(".history-item")).to_have_attribute("data-status", "completed")

    # The frames play in the canvas, scaled up crisply, and are not blank.
    stats = page.evaluate(CANVAS_STATS)
    assert stats["frames"] > 1
    assert stats["width"] % 32 == 0 and stats["width"] == stats["height"] >= 32
    assert stats["opaque"] == stats["pixels"], stats
    assert stats["colours"] >= 2, stats
    assert page.locator("#player").evaluate("c => getComputedStyle(c).imageRendering") == "pixelated"
    first = stats["frame"]
    page.wait_for_function(f"() => Number(document.querySelector('#player').dataset.frame) !== {first}")

    # Pause, then step one frame with the keyboard.
    page.locator("#play").click()
    expect(page.locator("#play")).to_have_text("Play")
    paused = page.evaluate(CANVAS_STATS)["frame"]
    page.locator("#stage").focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate(CANVAS_STATS)["frame"] == (paused + 1) % stats["frames"]
    page.locator("#onion").check()
    assert page.evaluate(CANVAS_STATS)["opaque"] == stats["pixels"]

    with page.expect_download() as gif:
        page.locator("#download-gif").click()
    assert gif.value.suggested_filename.endswith(".gif")
    assert gif.value.path().read_bytes()[:6] in (b"GIF87a", b"GIF89a")

    with page.expect_download() as sheet_json:
        page.locator("#download-sheet-json").click()
    sheet = json.loads(sheet_json.value.path().read_text())
    assert len(sheet["frames"]) == stats["frames"]
    assert sheet["meta"]["image"].endswith("-sheet.png")

    screenshot(page, "generate-completed")
    assert page_errors.messages == []


def test_leaving_mid_job_and_coming_back_shows_the_result(
    new_context: NewContext, site: Running, page_errors: PageErrors
) -> None:
    first = open_page(new_context, site, page_errors)
    context = first.context
    # The emulator holds each callback back 3 s, so the job is surely still running when the
    # page comes back.
    generate(first, "a knight swinging a sword [[fault:delay_callbacks]]")
    expect(first.locator("#progress-panel")).to_have_attribute("data-status", ACTIVE)
    job_id = first.locator("#progress-panel").get_attribute("data-job-id")
    first.close()

    # The token and the job followed are in the browser's storage: no ?token= this time.
    again = page_errors.watch(context.new_page())
    again.goto(f"{site.url}/")
    panel = again.locator("#progress-panel")
    expect(panel).to_have_attribute("data-job-id", job_id or "")
    expect(panel).to_have_attribute("data-status", ACTIVE)
    expect(again.locator(f'.history-item[data-job-id="{job_id}"]')).to_have_attribute("data-status", ACTIVE)
    screenshot(again, "reopen-running")

    expect(again.locator(".toast.success")).to_contain_text("Your animation is ready", timeout=45_000)
    expect(panel).to_have_attribute("data-status", "completed")
    expect(again.locator("#result-panel")).to_be_visible()
    expect(again.locator(f'.history-item[data-job-id="{job_id}"]')).to_have_attribute(
        "data-status", "completed"
    )
    assert again.evaluate(CANVAS_STATS)["colours"] >= 2
    screenshot(again, "reopen-completed")

    # Told once: a later visit shows the result without announcing it again.
    third = page_errors.watch(context.new_page())
    third.goto(f"{site.url}/")
    expect(third.locator("#result-panel")).to_be_visible()
    expect(third.locator(".toast")).to_have_count(0)
    assert page_errors.messages == []


def test_a_failed_generation_shows_a_toast_with_the_error(
    new_context: NewContext, site: Running, page_errors: PageErrors
) -> None:
    page = open_page(new_context, site, page_errors)
    generate(page, "a dragon breathing fire [[fault:fail_generation=Frame moderation failed]]")
    toast = page.locator(".toast.error")
    expect(toast).to_contain_text("The generation failed", timeout=45_000)
    expect(toast).to_contain_text("Frame moderation failed")
    expect(toast).to_have_attribute("role", "alert")
    expect(page.locator("#progress-panel")).to_have_attribute("data-status", "failed")
    expect(page.locator("#status-text")).to_contain_text("Failed: ")
    expect(page.locator("#result-panel")).to_be_hidden()
    expect(page.locator(".history-item")).to_have_attribute("data-status", "failed")
    screenshot(page, "failure-toast")
    assert page_errors.messages == []


def test_the_korean_page_on_a_phone(new_context: NewContext, site: Running, page_errors: PageErrors) -> None:
    page = open_page(
        new_context,
        site,
        page_errors,
        locale="ko-KR",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.locator("#generate")).to_have_text("애니메이션 생성")
    expect(page.locator('label[for="prompt"]')).to_have_text("프롬프트")
    expect(page.locator("#language")).to_have_value("ko")

    generate(page, "비 오는 밤 네온 거리를 걷는 고양이", size="16")
    expect(page.locator("#status-text")).to_have_text("AI 생성 중... (1-2분)")
    expect(page.locator("#elapsed")).to_contain_text("경과")
    screenshot(page, "korean-running")
    expect(page.locator("#status-text")).to_have_text("완료!", timeout=45_000)
    expect(page.locator(".toast.success")).to_contain_text("애니메이션이 준비되었습니다")
    expect(page.locator("#result-panel")).to_be_visible()
    expect(page.locator(".history-item .badge")).to_have_text("완료")

    # Fits the phone: nothing wider than the screen.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot(page, "korean-phone")

    # Switchable, and the choice is kept.
    page.locator("#language").select_option("en")
    expect(page.locator("#generate")).to_have_text("Generate Animation")
    expect(page.locator("#status-text")).to_have_text("Done!")
    page.reload()
    expect(page.locator("#generate")).to_have_text("Generate Animation")
    page.locator("#language").select_option("ko")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    assert page_errors.messages == []


def test_an_uploaded_video_is_pixelated(
    new_context: NewContext, site: Running, page_errors: PageErrors, tmp_path: Path
) -> None:
    clip = render_clip("my own holiday video", tmp_path / "holiday.mp4", width=160, height=120, seconds=1)
    page = open_page(new_context, site, page_errors)
    page.locator('label[for="source-video"]').click()
    expect(page.locator("#prompt-field")).to_be_hidden()
    expect(page.locator("#generate")).to_have_text("Pixelate Video")
    page.locator("#generate").click()
    expect(page.locator("#form-error")).to_have_text("Choose a video file.")

    page.locator("#video").set_input_files(str(clip))
    page.locator("#generate").click()
    expect(page.locator(".toast.success")).to_contain_text("holiday.mp4", timeout=45_000)
    expect(page.locator("#result-panel")).to_be_visible()
    expect(page.locator(".history-item .item-prompt")).to_have_text("holiday.mp4")
    assert page.evaluate(CANVAS_STATS)["frames"] >= 10
    screenshot(page, "upload-completed")
    assert page_errors.messages == []


def test_without_a_token_the_page_says_how_to_sign_in(
    new_context: NewContext, site: Running, page_errors: PageErrors
) -> None:
    page = page_errors.watch(new_context().new_page())
    page.goto(f"{site.url}/")
    signin = page.locator("#signin")
    expect(signin).to_be_visible()
    expect(signin).to_contain_text("pixelmotion token")
    expect(page.locator("#app")).to_be_hidden()

    # A refused token: back to the sign-in message, with the reason.
    page.goto(f"{site.url}/?token=not-a-real-token")
    expect(page.locator("#signin-reason")).to_contain_text("refused")
    assert page.evaluate("() => localStorage.getItem('pixelmotion.token')") is None

    # Pasting a good token signs in.
    page.locator("#token-input").fill(site.token(user()))
    page.locator("#token-input").press("Enter")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#history-empty")).to_be_visible()
    screenshot(page, "signed-in-empty")
    # The refused token's 401 is logged by the browser itself; nothing else may fail.
    assert [m for m in page_errors.messages if "401" not in m] == []
