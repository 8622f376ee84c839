"""Serving an ASGI app for real on loopback, in a background thread, for the tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import uvicorn

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: Any, port: int | None = None, *, timeout: float = 30.0) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 and yield its base URL; stop it afterwards."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=timeout, what="the server to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """A plain HTTP server on a free loopback port, in a thread, closed (socket too) after."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.02) -> Any:
    """Return ``condition()``'s first truthy value, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_while_progressing(
    done: Callable[[], int], goal: int, *, stall: float, what: str, interval: float = 0.2
) -> None:
    """Wait until ``done()`` reaches ``goal``; fail once it has not grown for ``stall`` seconds.

    For work whose total time is the machine's (hundreds of jobs on shared cores) but which
    must never stop: a job lost, or a lease never taken over, shows as a stall, however fast
    or slow the rest went."""
    best, since = done(), time.monotonic()
    while best < goal:
        time.sleep(interval)
        now = done()
        if now > best:
            best, since = now, time.monotonic()
        elif time.monotonic() - since > stall:
            raise AssertionError(f"{what}: stuck at {best} of {goal} for {stall}s")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh event loop in its own thread: a test may run
    in a thread that already has a loop running (Playwright's sync API leaves one)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
