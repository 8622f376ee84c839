"""``/docs`` in a real browser: Swagger UI renders the description, every request the page
makes goes to this app, and the page's strict policy is never violated."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.running import Running
from tests.web.conftest import REQUIRE_BROWSER, NewContext, PageErrors, screenshot

if not REQUIRE_BROWSER:
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Request


def test_docs_render_offline_from_this_origin(
    site: Running, new_context: NewContext, page_errors: PageErrors
) -> None:
    context = new_context()
    requested: list[str] = []
    elsewhere: list[str] = []

    def watch(request: Request) -> None:
        requested.append(request.url)
        if urlsplit(request.url).netloc != urlsplit(site.url).netloc and not request.url.startswith("data:"):
            elsewhere.append(request.url)

    context.on("request", watch)
    # Anything not for this origin is refused outright: the page must work without it.
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlsplit(route.request.url).netloc == urlsplit(site.url).netloc
            else route.abort()
        ),
    )
    page = page_errors.watch(context.new_page())
    page.goto(f"{site.url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("pixelmotion")
    create = page.locator(".opblock-summary", has_text="Create a job").first
    expect(create).to_be_visible()
    create.click()
    expect(page.locator(".opblock-body").first).to_contain_text("Idempotency-Key")
    expect(page.locator(".auth-wrapper .authorize")).to_be_visible()  # bearer tokens can be tried
    screenshot(page, "docs")

    assert elsewhere == []
    assert any(url.endswith("/openapi.json") for url in requested)
    assert any(url.endswith("/static-docs/swagger-ui-bundle.js") for url in requested)
    assert page_errors.messages == []
