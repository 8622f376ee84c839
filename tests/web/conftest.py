"""Browser tests: the page at ``/`` driven by Debian's Chromium through Playwright.

Chromium is the system's (``/usr/bin/chromium``); no browser is ever downloaded. Without it
(or without the ``playwright`` package) the browser tests are skipped, unless
``PIXELMOTION_REQUIRE_BROWSER`` is set, as CI does: then they fail.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.databases import sqlite_url
from tests.running import Running, start

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

CHROMIUM = Path(os.environ.get("PIXELMOTION_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE_BROWSER = bool(os.environ.get("PIXELMOTION_REQUIRE_BROWSER"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
# Long enough to watch progress move, short enough for the whole run to stay quick.
DREAM_SECONDS = "1.5"


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason}, and PIXELMOTION_REQUIRE_BROWSER is set", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One whole pixelmotion (API, worker, emulator) on SQLite for all browser tests; each test
    signs in as its own user, so histories never mix."""
    directory = tmp_path_factory.mktemp("web")
    yield from start(directory, sqlite_url(directory), emulator_dream_seconds=DREAM_SECONDS)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """One Playwright driver for the browser tests (the sync API allows only one at a time).
    Package scope: while it lives, its event loop counts as running in this thread, so it must
    be stopped before tests of other packages (which call asyncio.run) run in this process."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright==1.65.2)")
        raise  # unreachable: skip and fail raise
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect

    # Every wait has a deadline; on a busy machine a few seconds may not be enough.
    expect.set_options(timeout=20_000)
    with sync_playwright() as driver:
        yield driver


@contextlib.contextmanager
def launched_chromium(driver: Playwright) -> Iterator[Browser]:
    launched = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="package")
def browser(site: Running, playwright: Playwright) -> Iterator[Browser]:
    """Started after the site (so closed before it: no stream is left open at its shutdown)."""
    with launched_chromium(playwright) as launched:
        yield launched


@pytest.fixture(scope="module")
def bare_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium without the pixelmotion site, for pages served by the test itself."""
    with launched_chromium(playwright) as launched:
        yield launched


class PageErrors:
    """Console errors and uncaught exceptions of a page (a CSP violation is one)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("console", lambda message: self._console(message))
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))
        return page

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text}")


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


NewContext = Callable[..., "BrowserContext"]


@pytest.fixture
def new_context(browser: Browser) -> Iterator[NewContext]:
    """Opens browser contexts (English, desktop-sized unless told otherwise); all are closed
    when the test ends, which closes their event streams."""
    opened: list[BrowserContext] = []

    def open_context(**options: Any) -> BrowserContext:
        settings: dict[str, Any] = {
            "locale": "en-US",
            "viewport": {"width": 1280, "height": 900},
            "accept_downloads": True,
        }
        settings.update(options)
        context = browser.new_context(**settings)
        context.set_default_timeout(30_000)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


CONTENT_SECURITY_POLICY_PARTS = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
)


@dataclass(frozen=True)
class FinishedJobs:
    """Two real completed 16×16 jobs of one user: ``parent`` and ``job``."""

    user: str
    parent: dict[str, Any]
    job: dict[str, Any]


@pytest.fixture(scope="session")
def finished_jobs(site: Running) -> FinishedJobs:
    """Made once through the real API and the real worker, for the tests that show a finished
    job (the page's result, downloads, re-render)."""
    user = f"web-finished-{uuid.uuid4().hex[:8]}"
    body = {"width": 16, "height": 16, "colorCount": 8, "fps": 12}
    with site.client(user) as api:
        ids = [
            api.post("/v1/jobs", json={**body, "prompt": prompt}).json()["jobId"]
            for prompt in ("a slime bouncing", "a knight swinging a sword")
        ]
        parent, job = (site.wait_for_status(api, job_id, {"completed"}, timeout=90) for job_id in ids)
    return FinishedJobs(user=user, parent=parent, job=job)


def stand_in_for_job(page: Page, job: dict[str, Any]) -> None:
    """Answer the page's GET /v1/jobs/{id} with ``job``: the one stand-in the browser tests
    use, for job fields the API adds on another branch (palette, background, loop, seam,
    transparentIndex, parentJobId, the new outputs). Everything else (frames, outputs, the
    list) comes from the real server. The page then follows the job by polling that GET:
    EventSource is taken away, as the client's documented fallback allows."""
    page.add_init_script("delete window.EventSource;")
    page.route(
        f"**/v1/jobs/{job['jobId']}",
        lambda route: route.fulfill(json=job) if route.request.method == "GET" else route.continue_(),
    )
