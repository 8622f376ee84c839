"""The API's documentation: ``/docs`` served wholly by this app, and the completed OpenAPI
description at ``/openapi.json``.

Each route group describes its routes in its own module (``docs_jobs.py``, ``docs_events.py``,
``docs_webhooks.py``, ``docs_admin.py``: an ``OPERATIONS`` table of ``Doc``); ``OPERATIONS``
here merges them, and ``openapi.py`` completes FastAPI's description from it.

Swagger UI's script, style and icon come from the ``swagger-ui-bundle-v2`` package (Apache-2.0,
Swagger UI 5, which reads OpenAPI 3.1) and are served at ``/static-docs``; the page loads
nothing from elsewhere, and its Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from pixelmotion.api import docs_admin, docs_events, docs_jobs, docs_sprites, docs_webhooks
from pixelmotion.api.docs_common import Operations
from pixelmotion.api.openapi import build_openapi


def merged(*groups: Operations) -> Operations:
    """One table of every route's description; a route described twice is a mistake."""
    every: Operations = {}
    for group in groups:
        twice = every.keys() & group.keys()
        if twice:  # pragma: no cover - caught at import, by every test
            raise RuntimeError(f"routes described twice: {sorted(twice)}")
        every.update(group)
    return every


# A new route group adds its module's table here.
OPERATIONS = merged(
    docs_jobs.OPERATIONS,
    docs_events.OPERATIONS,
    docs_webhooks.OPERATIONS,
    docs_admin.OPERATIONS,
    docs_sprites.OPERATIONS,
)

DOCS_ASSETS = "/static-docs"
SWAGGER_DIR = Path(str(swagger_ui_bundle.swagger_ui_path))
# Only what the page uses (with the source maps the browser's tools ask for): the package's
# own index.html and initializer point at a demo API elsewhere and are not served.
SWAGGER_FILES = frozenset(
    {
        "swagger-ui-bundle.js",
        "swagger-ui-bundle.js.map",
        "swagger-ui.css",
        "swagger-ui.css.map",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)

router = APIRouter(include_in_schema=False)


class SwaggerFiles(StaticFiles):
    """Swagger UI's files, those the page uses only."""

    def lookup_path(self, path: str) -> tuple[str, Any]:
        if path not in SWAGGER_FILES:
            return "", None
        return super().lookup_path(path)

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def docs_page(openapi_url: str) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title="pixelmotion API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        # validatorUrl none: Swagger UI would otherwise send the description to its online
        # validator; the rest keeps the page quick on a long description.
        swagger_ui_parameters={"validatorUrl": None, "docExpansion": "list", "defaultModelsExpandDepth": 0},
    )
    html = bytes(page.body).decode()
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": _content_security_policy(html),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache",
        },
    )


def _content_security_policy(html: str) -> str:
    """This origin only; the page's one inline script allowed by its hash, not wholesale."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    )
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' {hashes}",
            "style-src 'self' 'unsafe-inline'",  # Swagger UI sets style attributes
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


@router.get("/docs")
def docs() -> HTMLResponse:
    return docs_page("/openapi.json")


def install_docs(app: FastAPI) -> None:
    """``/docs`` and its files, and the completed OpenAPI description at ``/openapi.json``."""
    if not (SWAGGER_DIR / "swagger-ui-bundle.js").is_file():  # pragma: no cover - packaging error
        raise RuntimeError(f"Swagger UI's files are missing from {SWAGGER_DIR}")
    app.openapi = lambda: build_openapi(app, OPERATIONS)  # type: ignore[method-assign]
    app.include_router(router)
    app.mount(DOCS_ASSETS, SwaggerFiles(directory=SWAGGER_DIR), name="static-docs")
