"""Real HTTP on loopback: the emulator under uvicorn in a thread, and a callback receiver.

Reusable pieces:
- ``AsgiServer``: any ASGI app served by uvicorn on a free 127.0.0.1 port in a thread.
- ``CallbackReceiver``: a tiny HTTP server that records POSTed JSON and answers with scripted
  statuses; it also serves files (keyframe images) from ``files``.
- ``wait_for``: poll a condition until a deadline (never a bare sleep-and-hope).
- fixtures: ``emulator_server`` (session-wide, mounted under a host app as the service does)
  and ``receiver``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, TypeVar

import lumaai
import pytest
import uvicorn
from fastapi import FastAPI

from pixelmotion.providers.emulator import Emulator, EmulatorSettings
from tests.server import http_server

API_KEY = "test-key"
DREAM_SECONDS = 0.5
MOUNT_PATH = "/emulator/luma"
# Luma's smallest output (540p, 1:1): real clips that render fast.
SMALL: dict[str, Any] = {"resolution": "540p", "aspect_ratio": "1:1"}
PROMPT = "a red fox running through fresh snow"

T = TypeVar("T")


def generation_id(generation: Any) -> str:
    """The id the emulator gives every generation (the SDK types it as optional)."""
    assert isinstance(generation.id, str)
    return generation.id


def wait_for(condition: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Poll ``condition`` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class AsgiServer:
    """Serves an ASGI app on loopback in a background thread (lifespan included)."""

    def __init__(self, app: Any, sock: socket.socket | None = None) -> None:
        self.sock = sock or bound_socket()
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, lifespan="on", log_level="warning", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> AsgiServer:
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), timeout=15)
        assert self.server.started, "server did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()

    def __enter__(self) -> AsgiServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


@dataclass
class EmulatorServer:
    """An emulator mounted at ``/emulator/luma`` in a host app, as the service mounts it."""

    emulator: Emulator
    server: AsgiServer
    clients: list[lumaai.LumaAI] = field(default_factory=list)  # closed when the server stops

    @property
    def root(self) -> str:
        return self.server.base_url + MOUNT_PATH

    @property
    def api(self) -> str:
        return self.root + "/dream-machine/v1"

    def stats(self) -> dict[str, Any]:
        import httpx

        answer: dict[str, Any] = httpx.get(
            self.api + "/_stats", headers={"Authorization": f"Bearer {API_KEY}"}
        ).json()
        return answer


def host_app(emulator: Emulator) -> FastAPI:
    """A host app like the service: mounts the emulator and runs it from its own lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emulator.start()
        try:
            yield
        finally:
            await emulator.stop()

    app = FastAPI(lifespan=lifespan)
    app.mount(MOUNT_PATH, emulator.asgi_app())
    return app


@contextlib.contextmanager
def running_emulator(cache_dir: Path, **options: Any) -> Iterator[EmulatorServer]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    options.setdefault("prompt_faults", True)  # tests steer it with [[fault:...]]
    # The test's callback receivers and keyframe servers listen on loopback.
    options.setdefault("outbound_hosts", frozenset({"127.0.0.1"}))
    settings = EmulatorSettings(
        api_key=API_KEY,
        dream_seconds=options.pop("dream_seconds", DREAM_SECONDS),
        cache_dir=cache_dir,
        public_base_url=f"http://127.0.0.1:{port}{MOUNT_PATH}",
        **options,
    )
    emulator = Emulator(settings)
    with AsgiServer(host_app(emulator), sock) as server:
        running = EmulatorServer(emulator, server)
        try:
            yield running
        finally:
            for client in running.clients:
                client.close()


def sdk(server: EmulatorServer, key: str = API_KEY, **options: Any) -> lumaai.LumaAI:
    """A Luma SDK client of the emulator, closed when the emulator stops."""
    options.setdefault("timeout", 10)
    client = lumaai.LumaAI(auth_token=key, base_url=server.api, max_retries=0, **options)
    server.clients.append(client)
    return client


@pytest.fixture(scope="session")
def clip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache directory for the session, so each clip renders once."""
    return tmp_path_factory.mktemp("emulator-cache")


@pytest.fixture
def fresh_cache(tmp_path: Path, clip_cache: Path) -> Path:
    """An empty emulator store that reuses the session's rendered clips (linked, not copied)."""
    cache = tmp_path / "emulator"
    (cache / "clips").mkdir(parents=True)
    for clip in (clip_cache / "clips").glob("*.mp4"):
        (cache / "clips" / clip.name).symlink_to(clip)
    return cache


@pytest.fixture(scope="session")
def emulator_server(clip_cache: Path) -> Iterator[EmulatorServer]:
    with running_emulator(clip_cache) as running:
        yield running


# --- callback receiver ------------------------------------------------------------------


@dataclass
class Delivery:
    path: str
    status: int  # what the receiver answered
    body: dict[str, Any]
    at: float


@dataclass
class CallbackReceiver:
    """Records every POST; answers each path with its scripted statuses, then 200."""

    base_url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    scripts: dict[str, list[int]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str, statuses: list[int] | None = None) -> str:
        path = f"/callbacks/{name}"
        if statuses:
            self.scripts[path] = list(statuses)
        return self.base_url + path

    def received(self, name: str) -> list[Delivery]:
        with self.lock:
            return [item for item in self.deliveries if item.path == f"/callbacks/{name}"]

    def delivered_states(self, name: str) -> list[str]:
        return [item.body["state"] for item in self.received(name) if item.status == 200]

    def next_status(self, path: str) -> int:
        with self.lock:
            script = self.scripts.get(path)
            return script.pop(0) if script else 200

    def record(self, delivery: Delivery) -> None:
        with self.lock:
            self.deliveries.append(delivery)


def _handler(receiver: CallbackReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            status = receiver.next_status(self.path)
            receiver.record(Delivery(self.path, status, body, time.monotonic()))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            if self.path not in receiver.files:
                self.send_error(404)
                return
            content_type, data = receiver.files[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    state = CallbackReceiver()
    with http_server(_handler(state)) as server:
        state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        yield state
