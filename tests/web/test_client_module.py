"""``/static/pixelmotion.js``, the client editors embed, driven in the browser: over the event
stream, and by polling where there is no EventSource."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.running import Running
from tests.server import wait_for
from tests.web.conftest import REQUIRE_BROWSER, NewContext, PageErrors

if not REQUIRE_BROWSER:
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

STATES = ["pending", "queued", "dreaming", "processing", "completed"]
TERMINAL = ("completed", "failed", "canceled")

# Start a generation and follow it to its end, as an editor would.
FOLLOW = """async ({token, prompt}) => {
  const pm = await import('/static/pixelmotion.js');
  pm.configure({token, pollIntervalMs: 250});
  const started = await pm.startVideoGeneration(
    {prompt, width: 16, height: 12, colorCount: 4, fps: 12});
  return await new Promise((resolve, reject) => {
    const seen = [];
    const timer = setTimeout(() => reject(new Error('no end: ' + JSON.stringify(seen))), 40000);
    const stop = pm.subscribeToVideoJob(started.jobId, (job) => {
      seen.push({status: job.status, progress: job.progress, message: job.progressMessage});
      if (!['completed', 'failed', 'canceled'].includes(job.status)) return;
      clearTimeout(timer);
      stop();
      const frames = job.frames || [];
      const first = frames[0];
      resolve({
        started, seen, id: job.id, totalFrames: job.totalFrames, error: job.error,
        frames: frames.length,
        first: first && {
          clamped: first.imageData instanceof Uint8ClampedArray, bytes: first.imageData.length,
          width: first.width, height: first.height, delayMs: first.delayMs,
          alpha: first.imageData[3],
          drawable: new ImageData(first.imageData, first.width, first.height).width,
        },
      });
    });
  });
}"""


def follow(new_context: NewContext, site: Running, errors: PageErrors, *, init: str | None = None) -> Any:
    context = new_context()
    if init:
        context.add_init_script(init)
    page = errors.watch(context.new_page())
    page.goto(f"{site.url}/")
    token = site.token(f"editor-{uuid.uuid4().hex[:8]}")
    return page.evaluate(FOLLOW, {"token": token, "prompt": "a knight swinging a sword"})


def check_completed(result: dict[str, Any]) -> None:
    assert result["started"]["status"] == "pending"
    assert result["started"]["estimatedTimeSeconds"] > 0
    assert result["id"] == result["started"]["jobId"]
    assert result["seen"][-1]["status"] == "completed" and result["error"] is None
    progress = [step["progress"] for step in result["seen"]]
    assert progress == sorted(progress) and progress[-1] == 100
    assert result["frames"] == result["totalFrames"] > 1
    assert result["first"] == {
        "clamped": True,
        "bytes": 16 * 12 * 4,
        "width": 16,
        "height": 12,
        "delayMs": result["first"]["delayMs"],
        "alpha": 255,
        "drawable": 16,
    }
    assert 60 <= result["first"]["delayMs"] <= 110  # about 1000 / 12


def test_the_client_follows_a_job_over_the_event_stream(
    new_context: NewContext, site: Running, page_errors: PageErrors
) -> None:
    result = follow(new_context, site, page_errors)
    check_completed(result)
    # The current state first (the worker may already have moved it on), then every change.
    statuses = list(dict.fromkeys(step["status"] for step in result["seen"]))
    assert statuses[0] in ("pending", "queued")
    assert statuses == STATES[STATES.index(statuses[0]) :]
    assert page_errors.messages == []


def test_without_event_source_the_client_polls(
    new_context: NewContext, site: Running, page_errors: PageErrors
) -> None:
    result = follow(new_context, site, page_errors, init="delete window.EventSource;")
    check_completed(result)
    assert page_errors.messages == []


# Two more jobs behind a provider cap of one (the first already with the model); follow the
# last while it waits its turn. What it sees collects in window.seen.
WAIT_IN_LINE = """async ({token, held}) => {
  const pm = await import('/static/pixelmotion.js');
  pm.configure({token, pollIntervalMs: 250});
  const params = {prompt: 'a slime bouncing', width: 16, height: 12, colorCount: 4, fps: 12};
  await pm.startVideoGeneration({...params, prompt: `a slime bouncing [[fault:hold=${held}]]`});
  const last = await pm.startVideoGeneration(params);
  window.seen = [];
  const stop = pm.subscribeToVideoJob(last.jobId, (job) => {
    window.seen.push({status: job.status, queuePosition: job.queuePosition});
    if (['completed', 'failed', 'canceled'].includes(job.status)) stop();
  }, {frames: false});
}"""


def test_a_job_waiting_in_line_counts_down_over_the_event_stream(
    new_context: NewContext, capped_site: Running, page_errors: PageErrors
) -> None:
    """Its place in line changes with no event of its own: the client reads the job again
    while it is pending, so an editor sees #2, then #1, then the job going through.

    The jobs ahead are held by the emulator (``hold=NAME``) until the page has seen each
    place, so no place can pass between two reads however slow the machine is."""
    page = page_errors.watch(new_context().new_page())
    page.goto(f"{capped_site.url}/")
    holds = capped_site.services.emulator.holds
    run = uuid.uuid4().hex[:8]
    first, second = f"web-first-{run}", f"web-second-{run}"
    token = capped_site.token(f"queued-{run}")

    def seen() -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = page.evaluate("window.seen || []")
        return steps

    def positions() -> list[int]:
        return [step["queuePosition"] for step in seen() if step["queuePosition"] is not None]

    try:
        with httpx.Client(base_url=capped_site.url, headers={"Authorization": f"Bearer {token}"}) as api:
            body = {"prompt": f"a slime bouncing [[fault:hold={first}]]", "width": 16, "height": 12}
            ahead = api.post("/v1/jobs", json={**body, "colorCount": 4, "fps": 12}).json()["jobId"]
            # Sent to the provider (and held there): the two jobs the page makes are #1 and #2.
            wait_for(
                lambda: api.get(f"/v1/jobs/{ahead}").json()["status"] in ("queued", "dreaming"),
                timeout=60,
                what="the first job sent",
            )
        page.evaluate(WAIT_IN_LINE, {"token": token, "held": second})
        wait_for(lambda: 2 in positions(), timeout=90, what="the last job seen at #2")
        holds.release(first)
        wait_for(lambda: 1 in positions(), timeout=90, what="the last job seen at #1")
        holds.release(second)
        wait_for(lambda: seen() and seen()[-1]["status"] in TERMINAL, timeout=90, what="the job's end")
    finally:  # the site serves the other tests of this module: hold nothing back
        holds.release(first)
        holds.release(second)
    steps = seen()
    assert list(dict.fromkeys(positions())) == [2, 1], steps
    assert all(step["status"] == "pending" for step in steps if step["queuePosition"] is not None)
    assert steps[-1]["status"] == "completed", steps
    assert page_errors.messages == []


# Re-render a job with a few options; what the server answers is caught, not thrown.
RENDER = """async ({token, jobId}) => {
  const pm = await import('/static/pixelmotion.js');
  pm.configure({token});
  try {
    return {started: await pm.render(jobId, {fps: 24, palette: 'pico8', loop: 'pingpong'})};
  } catch (error) {
    return {status: error.status, code: error.code};
  }
}"""


def test_render_posts_the_options_to_the_job_renders(
    new_context: NewContext, site: Running, page_errors: PageErrors
) -> None:
    page = page_errors.watch(new_context().new_page())
    page.goto(f"{site.url}/")
    job_id = uuid.uuid4().hex
    with page.expect_request(lambda request: request.method == "POST") as request:
        answer = page.evaluate(RENDER, {"token": site.token("editor-render"), "jobId": job_id})
    assert request.value.url == f"{site.url}/v1/jobs/{job_id}/renders"
    assert request.value.post_data_json == {"fps": 24, "palette": "pico8", "loop": "pingpong"}
    assert request.value.headers["authorization"].startswith("Bearer ")
    # No such job: the API's coded error reaches the caller.
    assert answer["status"] in (404, 405), answer
