"""Our own infrastructure away: the database or the object store. A request that meets the
outage answers at once with a coded 503 and ``Retry-After`` (the client tries again), never
a hang and never a bare 500; ``/healthz`` says which part is away.

- ``DATABASE_UNAVAILABLE``: PostgreSQL refused or dropped the connection, is starting up or
  shutting down, or no pooled connection came free within ``POOL_TIMEOUT`` (store/database.py
  bounds the connect and the wait, so this answer comes within about 2 s).
- ``STORAGE_UNAVAILABLE``: the object store stayed down through its retries.
- ``STORAGE_FULL``: no space left on the disk the store writes to.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from pixelmotion.objects.base import StorageFull, StorageUnavailable
from pixelmotion.store.database import OUTAGE_ERRORS
from pixelmotion.store.database import is_database_outage as is_database_outage  # for the views

logger = logging.getLogger(__name__)

DATABASE_RETRY_AFTER = 2
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
DATABASE_MESSAGE = "The database is unavailable for a moment; try again shortly."


def _coded_503(code: str, message: str, retry_after: float) -> JSONResponse:
    seconds = str(max(1, math.ceil(retry_after)))
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=503, headers={"Retry-After": seconds}
    )


def install_outage_handlers(app: FastAPI) -> None:
    async def database_away(request: Request, error: Exception) -> JSONResponse:
        if not is_database_outage(error):  # a DBAPIError that is a bug: the generic 500
            logger.exception("database error on %s %s", request.method, request.url.path)
            return JSONResponse(
                {
                    "error": {
                        "code": "INTERNAL",
                        "message": "Something went wrong on our side; the error was logged.",
                    }
                },
                status_code=500,
            )
        # The cause only (no statement, no parameters, no DSN): those may carry user data.
        logger.warning(
            "database unavailable on %s %s (%s)", request.method, request.url.path, type(error).__name__
        )
        return _coded_503(DATABASE_UNAVAILABLE, DATABASE_MESSAGE, DATABASE_RETRY_AFTER)

    async def storage_away(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StorageUnavailable)
        logger.warning(
            "object store unavailable on %s %s: %s", request.method, request.url.path, error.message
        )
        return _coded_503(
            error.code, "The file store is unavailable for a moment; try again shortly.", error.retry_after
        )

    async def storage_full(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StorageFull)
        logger.error("storage full on %s %s: %s", request.method, request.url.path, error.message)
        return _coded_503(error.code, "Our file store is full; try again later.", error.retry_after)

    for kind in (*OUTAGE_ERRORS, sa_exc.DBAPIError):
        app.add_exception_handler(kind, database_away)
    app.add_exception_handler(StorageUnavailable, storage_away)
    app.add_exception_handler(StorageFull, storage_full)
