"""Reaching the wired services from a request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

if TYPE_CHECKING:
    from pixelmotion.bootstrap import Services


async def services(request: Request) -> Services:
    # async: a plain function would cost a hop through the thread pool on every request.
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated["Services", Depends(services)]
