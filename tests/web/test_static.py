"""The page and its files over plain HTTP: served, cached sensibly, locked down."""

from __future__ import annotations

import json

import httpx

from pixelmotion.api.views.web import STATIC_DIR
from pixelmotion.media.palettes import PRESETS
from tests.running import Running
from tests.web.conftest import CONTENT_SECURITY_POLICY_PARTS

PAGE_FILES = {
    "/static/app.js": "text/javascript",
    "/static/texts.js": "text/javascript",
    "/static/player.js": "text/javascript",
    "/static/pixelmotion.js": "text/javascript",
    "/static/ui.js": "text/javascript",
    "/static/controls.js": "text/javascript",
    "/static/palette.js": "text/javascript",
    "/static/downloads.js": "text/javascript",
    "/static/history.js": "text/javascript",
    "/static/shapes.js": "text/javascript",
    "/static/palettes.json": "application/json",
    "/static/app.css": "text/css",
    "/static/favicon.svg": "image/svg+xml",
}


def test_the_page_is_served_with_a_strict_policy(site: Running) -> None:
    with httpx.Client(base_url=site.url) as client:
        page = client.get("/?token=anything")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<script type="module" src="/static/app.js">' in page.text
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["x-content-type-options"] == "nosniff"
        policy = page.headers["content-security-policy"]
        for part in CONTENT_SECURITY_POLICY_PARTS:
            assert part in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "anything" not in page.text


def test_static_files_are_served_and_revalidated(site: Running) -> None:
    with httpx.Client(base_url=site.url) as client:
        for path, media_type in PAGE_FILES.items():
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith(media_type), path
            assert response.headers["cache-control"] == "no-cache"
            again = client.get(path, headers={"If-None-Match": response.headers["etag"]})
            assert again.status_code == 304
        assert client.get("/favicon.ico").status_code == 200


def test_nothing_outside_the_static_folder_is_served(site: Running) -> None:
    with httpx.Client(base_url=site.url) as client:
        for path in ("/static/missing.js", "/static/../views/web.py", "/static/%2e%2e/app.py", "/static/"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "NOT_FOUND"
        assert client.post("/static/app.js").status_code == 405


def test_the_client_module_documents_its_api(site: Running) -> None:
    with httpx.Client(base_url=site.url) as client:
        source = client.get("/static/pixelmotion.js").text
    for name in ("configure", "startVideoGeneration", "subscribeToVideoJob", "fetchFrames"):
        assert f"export function {name}" in source or f"export async function {name}" in source
    assert "?access_token=" in source or "access_token" in source


def test_the_page_offers_the_server_presets() -> None:
    """palettes.json is the page's copy of the presets: the same names, colours and order."""
    page_presets = json.loads((STATIC_DIR / "palettes.json").read_text())
    assert page_presets == {name: list(colors) for name, colors in PRESETS.items()}
    assert list(page_presets) == list(PRESETS)
