"""Completing FastAPI's OpenAPI description: each route's summary, words, errors and examples
from the route groups' ``Doc`` tables (merged in ``docs.py``), the error shape, the tags and
the ways to authenticate.

Request and response models carry their own examples (``api/schemas.py``); this module adds
what the routes cannot say through FastAPI alone (binary and event-stream answers, the error
shape, the two ways to authenticate).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from pixelmotion.api import schemas as api_schemas
from pixelmotion.api.docs_common import ERROR_SCHEMA, ERRORS, JSON, Doc, Operations

TAGS = [
    {"name": "jobs", "description": "Create jobs, follow them, fetch their results."},
    {"name": "uploads", "description": "Your own videos and images, for imports and keyframes."},
    {"name": "events", "description": "Server-Sent Events, replayable after a disconnect."},
    {"name": "webhooks", "description": "Signed webhooks (Standard Webhooks) to your backend."},
    {"name": "plan", "description": "The routes of the original Supabase plan, kept for its client."},
    {"name": "callbacks", "description": "Called by the video model, not by users."},
    {"name": "admin", "description": "For `service_role` tokens."},
    {"name": "health", "description": "Health and metrics, for operators."},
]

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT (HS256, or ES256/RS256 through a JWKS) with `sub` = user id and "
        "`aud` = PIXELMOTION_JWT_AUDIENCE, as Supabase Auth issues them. "
        "`pixelmotion token --user alice` prints one.",
    },
    "accessToken": {
        "type": "apiKey",
        "in": "query",
        "name": "access_token",
        "description": "The same JWT, for event streams opened by EventSource.",
    },
    "callbackToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "HMAC of the job id, in the callback URL given to the provider.",
    },
}


def build_openapi(app: FastAPI, operations: Operations) -> dict[str, Any]:
    """FastAPI's description, completed from ``operations``; built once and cached."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
    )
    complete(spec, operations)
    app.openapi_schema = spec
    return spec


def complete(spec: dict[str, Any], operations: Operations) -> None:
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _restore_model_examples(schemas)
    schemas["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, described in spec.get("paths", {}).items():
        for method, operation in described.items():
            doc = operations.get((method, path))
            if doc is not None:
                _apply(operation, doc)
            _errors_in_our_shape(operation)
            _examples_from_schemas(operation, schemas)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    if "HTTPValidationError" in json.dumps(spec):  # pragma: no cover - a route kept FastAPI's 422
        raise RuntimeError("a route still documents FastAPI's validation error shape")


def _restore_model_examples(schemas: dict[str, Any]) -> None:
    """FastAPI drops every null from the description (``exclude_none``), examples included,
    which leaves them invalid (``"error": null`` is a required field); put them back whole."""
    for name, model in vars(api_schemas).items():
        if isinstance(model, type) and issubclass(model, BaseModel) and name in schemas:
            examples = model.model_json_schema().get("examples")
            if examples:
                schemas[name]["examples"] = examples


def _apply(operation: dict[str, Any], doc: Doc) -> None:
    operation["summary"] = doc.summary
    if not operation.get("description") and doc.description:
        operation["description"] = doc.description
    if doc.security is not None:
        operation["security"] = doc.security
    if doc.request is not None:
        operation["requestBody"] = copy.deepcopy(doc.request)
    responses = operation.setdefault("responses", {})
    for status, response in doc.responses.items():
        merged = {**responses.get(status, {}), **copy.deepcopy(response)}
        responses[status] = merged
    for status, example in doc.examples.items():
        content = responses.setdefault(status, {"description": "OK"}).setdefault("content", {})
        content.setdefault(JSON, {}).update(example=copy.deepcopy(example))
    for code in doc.errors:
        description, error = ERRORS[code]
        if code in doc.error_codes:
            error = dict(zip(("code", "message"), doc.error_codes[code], strict=True))
        responses[str(code)] = _error_response(description, error)


def _errors_in_our_shape(operation: dict[str, Any]) -> None:
    """FastAPI documents 422 as its own shape; ours is ``{"error": {...}}`` (api/errors.py)."""
    response = operation.get("responses", {}).get("422")
    if response is None:
        return
    schema = response.get("content", {}).get(JSON, {}).get("schema", {})
    if schema.get("$ref", "").endswith("/HTTPValidationError"):
        operation["responses"]["422"] = _error_response(*ERRORS[422])


def _error_response(description: str, error: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}, "example": {"error": error}}},
    }


def _examples_from_schemas(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Lift each model's first example to where Swagger UI shows it: the media type."""
    bodies = [operation.get("requestBody", {}), *list(operation.get("responses", {}).values())]
    for body in bodies:
        media = body.get("content", {}).get(JSON)
        if not media or "example" in media or "examples" in media:
            continue
        example = _example_of(media.get("schema", {}), schemas)
        if example is not None:
            media["example"] = example
    request = operation.get("requestBody", {}).get("content", {}).get(JSON)
    if request is not None:
        named = _all_examples_of(request.get("schema", {}), schemas)
        if len(named) > 1:
            request.pop("example", None)
            request["examples"] = {
                f"example{i + 1}": {"summary": _example_summary(value), "value": value}
                for i, value in enumerate(named)
            }


def _example_of(schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    examples = _all_examples_of(schema, schemas)
    if examples:
        return examples[0]
    if schema.get("type") == "array":
        item = _example_of(schema.get("items", {}), schemas)
        return None if item is None else [item]
    return None


def _all_examples_of(schema: dict[str, Any], schemas: dict[str, Any]) -> list[Any]:
    ref = schema.get("$ref", "")
    target = schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else schema
    return list(target.get("examples", []))


def _example_summary(value: Any) -> str:
    if isinstance(value, dict) and "source" in value:
        return "Pixelate your own video (no model)"
    if isinstance(value, dict) and "webhookUrl" in value:
        return "A looping sprite, dithered, with a webhook"
    return "A prompt"
