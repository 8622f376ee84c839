"""One error shape for every failure: ``{"error": {"code", "message"[, "fields"]}}``."""

from __future__ import annotations

import logging
from dataclasses import KW_ONLY, dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from pixelmotion.api.outages import install_outage_handlers
from pixelmotion.app.errors import (
    AppError,
    Conflict,
    Forbidden,
    KeyReusedError,
    LimitReached,
    Malformed,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unprocessable,
    UnsupportedMedia,
)
from pixelmotion.jobs.errors import InvalidRequest

logger = logging.getLogger(__name__)

STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_REQUEST",
    429: "RATE_LIMITED",
}


# The one mapping from a use case's error to an HTTP status (``app/errors.py``).
APP_ERROR_STATUS: dict[type[AppError], int] = {
    Malformed: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    UnsupportedMedia: 415,
    KeyReusedError: 422,
    Unprocessable: 422,
    LimitReached: 429,
}


def status_of(error: AppError) -> int:
    return next((status for kind, status in APP_ERROR_STATUS.items() if isinstance(error, kind)), 500)


@dataclass(eq=False, repr=False)  # an exception's identity and repr, as any other's
class ApiError(Exception):
    """An error the HTTP layer itself finds (a missing token, a bad header)."""

    status: int
    code: str
    message: str
    _: KW_ONLY
    fields: dict[str, str] | None = None
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    install_outage_handlers(app)  # the database or the object store away: coded 503s

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error_response(
            error.status, error.code, error.message, fields=error.fields, headers=error.headers
        )

    @app.exception_handler(AppError)
    async def app_error(_: Request, error: AppError) -> JSONResponse:
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, LimitReached) else None
        return error_response(status_of(error), error.code, error.message, headers=headers)

    @app.exception_handler(InvalidRequest)
    async def invalid_request(_: Request, error: InvalidRequest) -> JSONResponse:
        return error_response(422, error.code, str(error), fields=error.fields)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        fields = _fields(error.errors())
        first = next(iter(fields.items()), ("body", "is not valid"))
        return error_response(422, "INVALID_REQUEST", f"{first[0]}: {first[1]}", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(error.status_code, "ERROR")
        message = error.detail if isinstance(error.detail, str) else code.replace("_", " ").lower()
        return error_response(error.status_code, code, message, headers=getattr(error, "headers", None))

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, _: ClientDisconnect) -> Response:
        # An ordinary outcome (a closed tab, a dropped network), not an error of ours: one
        # quiet line, no traceback. Nobody is left to read the answer.
        logger.info("client disconnected during %s %s", request.method, request.url.path)
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "INTERNAL", "Something went wrong on our side; the error was logged.")


def _fields(errors: Any) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in errors:
        location = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path")]
        name = ".".join(location) or "body"
        message = str(item.get("msg", "is not valid"))
        if item.get("type") == "json_invalid":
            name, message = "body", "is not valid JSON"
        elif item.get("type") == "extra_forbidden":
            message = "is not a known field"
        fields.setdefault(name, message)
    return fields
