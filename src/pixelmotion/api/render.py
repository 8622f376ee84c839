"""Answers rendered straight from their response model.

A route that returns a model has FastAPI dump it, validate the dump against the route's
``response_model`` again and encode the result: three passes over a model we built ourselves
a moment before. ``json_response`` is one pass (pydantic's own JSON encoder, by alias, as
``response_model_by_alias`` would); the route keeps ``response_model`` for its OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import Response
from pydantic import BaseModel


def json_response(
    model: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        model.model_dump_json(by_alias=True),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )
