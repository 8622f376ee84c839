"""Who is calling: ``Authorization: Bearer <JWT>`` (or ``?access_token=`` for EventSource)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from pixelmotion.api.errors import ApiError
from pixelmotion.security import Caller, InvalidToken


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate(request: Request, *, allow_query: bool = False) -> Caller:
    token = _bearer(request)
    if token is None and allow_query:
        token = request.query_params.get("access_token")
    if not token:
        raise ApiError(
            401,
            "UNAUTHORIZED",
            "Sign in: send Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier = request.app.state.services.token_verifier
    try:
        return verifier.verify(token)  # type: ignore[no-any-return]
    except InvalidToken as error:
        raise ApiError(
            401,
            "UNAUTHORIZED",
            f"The bearer token was refused: {error}.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


# async: these do no I/O (JWKS fetches aside, cached); as plain functions each would cost a
# hop through the thread pool on every request.
async def current_caller(request: Request) -> Caller:
    return authenticate(request)


async def stream_caller(request: Request) -> Caller:
    return authenticate(request, allow_query=True)


CurrentCaller = Annotated[Caller, Depends(current_caller)]
StreamCaller = Annotated[Caller, Depends(stream_caller)]


async def service_caller(request: Request) -> Caller:
    """Admin routes: a token whose ``role`` is ``service_role`` (as Supabase names it)."""
    caller = authenticate(request)
    if caller.role != "service_role":
        raise ApiError(403, "FORBIDDEN", "This route needs a token with role service_role.")
    return caller


ServiceCaller = Annotated[Caller, Depends(service_caller)]
