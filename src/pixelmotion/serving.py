"""How the API is served: uvicorn with a header-read timeout and a cap on connections, and
what the process made to start kept out of the garbage collector's way.

uvicorn times out idle keep-alive connections, but not one that is still sending its request
headers: a client trickling a byte every few seconds holds its connection for ever, and a
few thousand such clients hold the server (slow loris). ``guarded_protocol`` closes a
connection whose request headers are not complete within ``header_timeout`` seconds of its
first byte (or of the connection), and refuses connections past ``max_connections`` at once.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 16 * 1024  # h11's buffer for an incomplete request head: 431/400 past it


class GuardedH11Protocol(H11Protocol):
    header_timeout: float = 10.0
    max_connections: int | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        if self.max_connections is not None and len(self.connections) > self.max_connections:
            transport.close()  # past the cap: no answer, nothing held
            return
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()  # (the rest of) a request head is still to come
        else:
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Back to waiting for a head: the keep-alive timeout covers the silence before it;
        # the header deadline starts with its first byte.
        self._disarm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(header_timeout: float, max_connections: int | None) -> type[GuardedH11Protocol]:
    """The protocol class for uvicorn's ``http=``, with these limits."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": header_timeout, "max_connections": max_connections},
    )


def server_options(header_timeout: float, max_connections: int | None) -> dict[str, Any]:
    """uvicorn options every served pixelmotion API gets."""
    return {
        "http": guarded_protocol(header_timeout, max_connections),
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "limit_concurrency": max_connections,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    }


def freeze_startup_objects() -> None:
    """Move everything made so far (modules, the app, its routes and services) to the
    collector's permanent generation, after collecting what is garbage already: called by
    ``serve`` and ``worker`` once they are wired, before they take work. Those objects live as
    long as the process, yet each full collection walked them all, holding the interpreter:
    60–125 ms each, a few times in ten seconds of steady load, which every request in flight
    waited out (half of a PostgreSQL submission's p99)."""
    gc.collect()
    gc.freeze()
