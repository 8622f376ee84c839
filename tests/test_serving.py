"""Serving limits (issue 17, finding 16): connections trickling their request headers are
closed after the header timeout; connections past the cap are refused; real sockets on
loopback against uvicorn with the protocol the service uses. And what a started process
keeps out of the garbage collector's full passes."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from pixelmotion.config import SettingsError, load_settings
from pixelmotion.serving import server_options
from tests.server import free_port, wait_for


def tiny_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


@contextmanager
def served(header_timeout: float, max_connections: int | None) -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(
        tiny_app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        **server_options(header_timeout, max_connections),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=15, what="the server")
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed this connection (EOF or reset on read)."""
    sock.setblocking(False)
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def test_slow_loris_connections_are_closed_after_the_header_timeout() -> None:
    with served(header_timeout=1.0, max_connections=None) as port:
        loris = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
        started = time.monotonic()
        for sock in loris:
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")

        stop = threading.Event()

        def trickle() -> None:  # a header byte every 0.2 s on every connection, never the end
            while not stop.wait(0.2):
                for sock in loris:
                    with contextlib.suppress(OSError):  # closed by the server already
                        sock.sendall(b"X")

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        try:
            wait_for(
                lambda: all(closed_by_server(s) for s in loris),
                timeout=10,
                what="every slow connection closed",
            )
            elapsed = time.monotonic() - started
            assert elapsed >= 0.9  # not before the timeout...
            assert elapsed < 6  # ...and soon after it
            # An ordinary client is served meanwhile, and keep-alive works as before.
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                assert client.get("/ping").json() == {"pong": "yes"}
                time.sleep(1.2)  # longer than the header timeout, idle between requests
                assert client.get("/ping").status_code == 200
        finally:
            stop.set()
            thread.join(timeout=5)
            for sock in loris:
                sock.close()


def test_connections_past_the_cap_are_refused() -> None:
    with served(header_timeout=30, max_connections=10) as port:
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
        try:
            time.sleep(0.05)
            extra = socket.create_connection(("127.0.0.1", port))
            wait_for(lambda: closed_by_server(extra), timeout=5, what="the connection past the cap closed")
            assert not any(closed_by_server(sock) for sock in held)
            extra.close()
        finally:
            for sock in held:
                sock.close()
        # Once they are gone, new connections are served again.
        wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{port}/ping").status_code == 200,
            timeout=5,
            what="service after the held connections closed",
        )


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET", "SECRET_KEY_PREVIOUS"])
@pytest.mark.parametrize("value", ["change-me-callback-signing-key", "change-me-jwt-secret", "short-secret"])
def test_placeholder_or_short_secrets_are_refused(name: str, value: str, tmp_path: object) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({f"PIXELMOTION_{name}": value, "PIXELMOTION_DATA_DIR": str(tmp_path)})
    assert f"PIXELMOTION_{name}" in str(refused.value)
    assert value not in str(refused.value)  # the message never repeats the secret


def test_without_secrets_the_embedded_default_generates_its_own(tmp_path: object) -> None:
    settings = load_settings({"PIXELMOTION_DATA_DIR": str(tmp_path)})
    assert len(settings.secret_key) >= 32 and len(settings.jwt_secret) >= 32
    assert settings.secret_key != settings.jwt_secret


FROZEN_AFTER_START = """
import gc, weakref
from pixelmotion.api.app import create_app  # what serve imports before it freezes
from pixelmotion.serving import freeze_startup_objects

class Node:
    pass

garbage = Node()
garbage.self = garbage  # a cycle: only the collector frees it
collected = []
weakref.finalize(garbage, collected.append, True)
del garbage
kept = Node()
freeze_startup_objects()
print(collected == [True], gc.get_freeze_count(), gc.is_tracked(kept), kept in gc.get_objects())
"""


def test_a_started_process_collects_its_garbage_then_freezes_the_rest() -> None:
    """Run apart: freezing pytest's own heap would keep its garbage for the whole session."""
    command = [sys.executable, "-c", FROZEN_AFTER_START]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    collected, frozen, tracked, walked = done.stdout.split()
    assert collected == "True"  # garbage already there is collected, not frozen
    assert int(frozen) > 50_000  # the app's modules, functions and routes: out of every full pass
    assert (tracked, walked) == ("True", "False")  # a live object is frozen, not dropped
