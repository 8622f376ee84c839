"""The web page at ``/`` and its static files at ``/static/*``.

The page is plain HTML, CSS and ES modules (no build step, nothing from a CDN). It signs in
with ``/?token=…`` (the page moves the token into its storage and drops it from the address
bar), so every answer here says ``Referrer-Policy: no-referrer`` and the page's CSP allows
nothing but this origin.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)

# Scripts, styles, fetches and event streams from this origin only; images also from the
# blob: URLs the page makes for downloads. No inline script, no plugins, no framing.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}

# The files are not fingerprinted: browsers may keep them but must revalidate (ETag and
# Last-Modified make that a 304) so a new release shows at once.
STATIC_CACHE_CONTROL = "no-cache"


class PageFiles(StaticFiles):
    """StaticFiles with caching and security headers on every file it serves."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = STATIC_CACHE_CONTROL
        response.headers.update(SECURITY_HEADERS)
        return response


def static_files() -> PageFiles:
    """The ASGI app to mount at ``/static``."""
    return PageFiles(directory=STATIC_DIR)


@router.get("/", response_class=FileResponse)
def index() -> FileResponse:
    """The page. ``?token=`` is read by the page's script, never by the server."""
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-cache", **SECURITY_HEADERS},
    )


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400", **SECURITY_HEADERS},
    )
