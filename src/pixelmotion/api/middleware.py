"""ASGI middleware: request ids on every log line, a cap on request bodies, and the
loopback-only gate in front of the embedded emulator."""

from __future__ import annotations

import ipaddress
import json
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixelmotion.logs import request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` (413) except on the upload routes, which
    stream to disk under their own, larger cap. Counts the bytes as they come, so a body
    without Content-Length cannot slip past."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, exempt_prefixes: tuple[str, ...] = ("/v1/uploads",)
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer 413 now; the app sees the client gone and its answer is dropped.
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "PAYLOAD_TOO_LARGE",
                    "message": f"Request bodies are limited to {self.max_bytes} bytes.",
                }
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever the
# socket's peer (a proxy on the same host connects from loopback).
PROXY_HEADERS = frozenset({b"forwarded", b"x-forwarded-for", b"x-real-ip", b"x-forwarded-host"})


def is_local_caller(scope: Scope) -> bool:
    """A direct caller on this host: from loopback, or from the very address it called."""
    client, server = scope.get("client"), scope.get("server")
    if not client or any(name.lower() in PROXY_HEADERS for name, _ in scope.get("headers", ())):
        return False
    try:
        address = ipaddress.ip_address(str(client[0]))
    except ValueError:
        return False
    return address.is_loopback or (server is not None and str(server[0]) == str(address))


class LoopbackOnly:
    """Answers 403 to anyone but a direct local caller: the embedded emulator is the
    development stand-in for Luma, reached by this host's own worker, never a public surface."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_local_caller(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "error": {
                    "code": "LOOPBACK_ONLY",
                    "message": "The emulator answers this host's own callers only.",
                }
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})
