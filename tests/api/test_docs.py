"""The OpenAPI description documents every route with examples, and ``/docs`` loads nothing
from anywhere but this app."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import openapi_schema_validator
import openapi_spec_validator
import pytest

from pixelmotion.api.docs import OPERATIONS
from tests.api.conftest import Running

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def spec(sqlite_app: Running) -> dict[str, Any]:
    with sqlite_app.client(None) as client:
        answer = client.get("/openapi.json")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_docs_page_loads_only_this_origins_files(sqlite_app: Running) -> None:
    with sqlite_app.client(None) as client:
        page = client.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        assert len(references) >= 3  # the script, the style, the icon
        assert "url: '/openapi.json'" in html
        references.append("/openapi.json")
        for reference in references:
            absolute = urljoin(sqlite_app.url + "/docs", reference)
            assert urlsplit(absolute).netloc == urlsplit(sqlite_app.url).netloc, reference
            assert not reference.startswith("//"), reference
            asset = client.get(absolute)
            assert asset.status_code == 200, (reference, asset.status_code)
        assert not re.search(r"https?://", html), "the page names another site"

        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        assert "http" not in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]

        script = client.get("/static-docs/swagger-ui-bundle.js")
        assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
        style = client.get("/static-docs/swagger-ui.css").text
        assert "@import" not in style and not re.search(r"url\(\s*['\"]?(https?:)?//", style)
        assert "@font-face" not in style  # system fonts only: nothing to fetch

        # The package's demo page and initializer (which point at a demo API elsewhere) are not served.
        for name in ("index.html", "swagger-initializer.js", "../__init__.py", "oauth2-redirect.html"):
            assert client.get(f"/static-docs/{name}").status_code == 404, name
        assert client.get("/redoc").status_code == 404


def test_every_route_is_described_with_examples(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    found = operations(spec)
    # A new route must be described in its group's api/docs_*.py, and a described route must exist.
    assert {(method, path) for method, path, _ in found} == set(OPERATIONS)
    for method, path, operation in found:
        where = f"{method.upper()} {path}"
        assert operation["summary"] == OPERATIONS[(method, path)].summary, where
        assert operation.get("description"), where
        assert operation.get("tags"), where
        body = operation.get("requestBody")
        if body is not None:
            for media_type, media in body["content"].items():
                if media.get("schema", {}).get("format") == "binary":
                    continue
                assert "example" in media or "examples" in media, f"{where} request {media_type}"
        for status, response in operation["responses"].items():
            assert response.get("description"), f"{where} {status}"
            for media_type, media in response.get("content", {}).items():
                if media.get("schema", {}).get("format") == "binary":
                    continue
                assert "example" in media or "examples" in media, f"{where} {status} {media_type}"
        success = [s for s in operation["responses"] if s.startswith("2")]
        assert success, where


def test_errors_are_documented_in_the_apps_shape(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(spec)
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    for method, path, operation in operations(spec):
        security = operation.get("security")
        if path.startswith("/v1/") and "callbacks" not in path:
            assert security and {"bearerAuth": []} in security, f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path}"
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and path != "/healthz":
                media = response["content"]["application/json"]
                assert media["schema"] == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {status}"
                assert set(media["example"]["error"]) >= {"code", "message"}
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"


def test_results_document_the_redirect_to_storage(spec: dict[str, Any]) -> None:
    for name, media_type in (("sheet.png", "image/png"), ("animation.gif", "image/gif")):
        responses = spec["paths"][f"/v1/jobs/{{job_id}}/{name}"]["get"]["responses"]
        assert media_type in responses["200"]["content"]
        assert "Location" in responses["307"]["headers"]


def test_the_description_is_valid_and_so_are_its_examples(spec: dict[str, Any]) -> None:
    openapi_spec_validator.validate(spec)
    schemas = spec["components"]["schemas"]
    checked = 0

    def check(schema: dict[str, Any], example: Any, where: str) -> None:
        nonlocal checked
        full = {**schema, "components": spec["components"]}
        errors = list(openapi_schema_validator.OAS31Validator(full).iter_errors(example))
        assert not errors, f"{where}: {errors[0].message}"
        checked += 1

    for name, schema in schemas.items():
        for example in schema.get("examples", []):
            check(schema, example, f"schema {name}")
    for method, path, operation in operations(spec):
        media_list = [
            ("request", operation.get("requestBody", {}).get("content", {}).get("application/json"))
        ]
        media_list += [
            (s, r.get("content", {}).get("application/json")) for s, r in operation["responses"].items()
        ]
        for status, media in media_list:
            if media and "schema" in media and "example" in media:
                check(media["schema"], media["example"], f"{method} {path} {status}")
            for named in (media or {}).get("examples", {}).values():
                check(media["schema"], named["value"], f"{method} {path} {status}")
    assert checked >= 30
