"""Python client for a pixelmotion server: ``Client`` and ``AsyncClient``.

    from pixelmotion.client import Client

    with Client("http://127.0.0.1:8000", token) as pm:
        job = pm.create("a knight swinging a sword", width=64, height=64, color_count=16, fps=12)
        job = pm.wait(job.id, on_update=lambda j: print(j.status, j.progress))
        pm.download(job.id, "out/")

Python names here; the wire stays camelCase. Every create carries an Idempotency-Key, so the
client's retries after a connection error can never start (and bill) a second job.
"""

from __future__ import annotations

import contextlib
import os
import time
import tomllib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pixelmotion.client_wire import SseDecoder, canvas_body, create_body

TERMINAL = frozenset({"completed", "failed", "canceled"})
# How long a followed job waiting in line may be quiet before it is read again (its place
# moves silently); each client takes its own (queue_poll_seconds).
QUEUE_POLL_SECONDS = 2.0
OUTPUT_FILES = {
    "gif": "animation.gif",
    "sheet": "sheet.png",
    "sheetJson": "sheet.json",
    "frames": "frames.json",
    "webp": "animation.webp",
    "apng": "animation.png",
    "zip": "frames.zip",
    "aseprite": "animation.aseprite",
    "sheetHash": "sheet.hash.json",
    "sheetArray": "sheet.array.json",
    "godot": "animation.tres",
}
DEFAULT_URL = "http://127.0.0.1:8000"
CONFIG_PATH = Path("~/.config/pixelmotion/config.toml")


class PixelmotionError(Exception):
    """An error answer from the server: HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message} (HTTP {status})")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class JobError:
    code: str
    message: str


@dataclass(frozen=True)
class Job:
    id: str
    status: str
    progress: int
    progress_message: str | None
    total_frames: int | None
    error: JobError | None
    outputs: dict[str, str]
    estimated_time_seconds: int | None
    # While pending behind the provider account's limits: the place in line (1 is next).
    queue_position: int | None = None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        error = data.get("error")
        return cls(
            id=data["jobId"],
            status=data["status"],
            progress=int(data.get("progress", 0)),
            progress_message=data.get("progressMessage"),
            total_frames=data.get("totalFrames"),
            error=JobError(error["code"], error["message"]) if error else None,
            outputs=dict(data.get("outputs") or {}),
            estimated_time_seconds=data.get("estimatedTimeSeconds"),
            queue_position=data.get("queuePosition"),
            raw=data,
        )


def resolve_connection(url: str | None = None, token: str | None = None) -> tuple[str, str | None]:
    """Arguments first, then PIXELMOTION_URL / PIXELMOTION_TOKEN, then the config file."""
    file_values: dict[str, Any] = {}
    path = Path(os.environ.get("PIXELMOTION_CONFIG", str(CONFIG_PATH))).expanduser()
    if path.is_file():
        with path.open("rb") as handle:
            file_values = tomllib.load(handle)
    resolved_url = url or os.environ.get("PIXELMOTION_URL") or file_values.get("url") or DEFAULT_URL
    resolved_token = token or os.environ.get("PIXELMOTION_TOKEN") or file_values.get("token")
    return str(resolved_url).rstrip("/"), resolved_token


def _check(response: httpx.Response) -> httpx.Response:
    if response.status_code < 400:
        return response
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "HTTP_ERROR", response.text[:200] or response.reason_phrase
    raise PixelmotionError(response.status_code, code, message)


def output_route(name: str) -> tuple[str, str]:
    """(API route under the job, file name) of a result format."""
    filename = OUTPUT_FILES[name]
    return ("frames" if name == "frames" else filename), filename


class _Waiting:
    """What ``wait`` keeps between streams, the same in both clients: the job as last seen, the
    last event id (a new stream resumes after it), and who hears of each change."""

    def __init__(self, job: Job, on_update: Callable[[Job], None] | None, queue_poll_seconds: float) -> None:
        self.job = job
        self.after: int | None = None
        self._on_update = on_update or (lambda _: None)
        self._queue_poll_seconds = queue_poll_seconds
        self._on_update(job)

    @property
    def in_line(self) -> bool:
        return self.job.queue_position is not None

    @property
    def quiet_seconds(self) -> float:
        """How long a stream may stay quiet: in line, the place moves with no event of its own."""
        return self._queue_poll_seconds if self.in_line else 60.0

    def saw(self, event_id: int | None, job: Job, in_line: bool) -> bool:
        """A streamed change; True: stop following (it ended, or the stream began in line:
        the job is read again for its place, then followed anew)."""
        self.after = event_id if event_id is not None else self.after
        self.job = job
        self._on_update(job)
        return job.done or in_line

    def read_again(self, job: Job) -> None:
        """The job read after a stream: reported if its state or place moved."""
        seen, self.job = self.job, job
        if (job.status, job.queue_position) != (seen.status, seen.queue_position):
            self._on_update(job)


class _Connected:
    """Where the server is and who asks, for both clients; each opens its own HTTP client."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        queue_poll_seconds: float = QUEUE_POLL_SECONDS,
    ) -> None:
        self.url, self.token = resolve_connection(url, token)
        self.queue_poll_seconds = queue_poll_seconds
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._open(headers, timeout, retries)  # retries: of connection failures only

    def _open(self, headers: dict[str, str], timeout: float, retries: int) -> None:
        raise NotImplementedError


def _download_paths(directory: str | Path, formats: tuple[str, ...]) -> list[tuple[str, str, Path]]:
    """(format, API route under the job, local path) of each result to save; makes the folder."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    return [(name, output_route(name)[0], target / output_route(name)[1]) for name in formats]


class Client(_Connected):
    _http: httpx.Client

    def _open(self, headers: dict[str, str], timeout: float, retries: int) -> None:
        transport = httpx.HTTPTransport(retries=retries)
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(self, prompt: str, *, idempotency_key: str | None = None, **options: Any) -> str:
        """Start a job; its id (one request: nothing between the answer and the caller)."""
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        response = _check(self._http.post("/v1/jobs", json=create_body(prompt, **options), headers=headers))
        job_id: str = response.json()["jobId"]
        return job_id

    def create(self, prompt: str, *, idempotency_key: str | None = None, **options: Any) -> Job:
        """Start a job and read it back (a worker may already have moved it on)."""
        return self.get(self.submit(prompt, idempotency_key=idempotency_key, **options))

    def get(self, job_id: str) -> Job:
        return Job.from_json(_check(self._http.get(f"/v1/jobs/{job_id}")).json())

    def list(self, *, limit: int = 20, project_id: str | None = None) -> list[Job]:
        params: dict[str, Any] = {"limit": limit}
        if project_id:
            params["projectId"] = project_id
        body = _check(self._http.get("/v1/jobs", params=params)).json()
        return [Job.from_json(item) for item in body["jobs"]]

    def cancel(self, job_id: str) -> Job:
        return Job.from_json(_check(self._http.post(f"/v1/jobs/{job_id}/cancel")).json())

    def render(self, job_id: str, **options: Any) -> Job:
        """Re-render a job's paid clip with other canvas options (width, height, color_count,
        palette, palette_from, fps, dither, fit, background, key_color, loop): a new job, no
        provider call, no cost; options left out keep the job's values."""
        answer = _check(self._http.post(f"/v1/jobs/{job_id}/renders", json=canvas_body(**options)))
        return self.get(answer.json()["jobId"])

    def retry(self, job_id: str) -> Job:
        return Job.from_json(_check(self._http.post(f"/v1/jobs/{job_id}/retry")).json())

    def events(self, job_id: str, *, last_event_id: int | None = None) -> Iterator[Job]:
        """Every change of the job, live, until it ends (Server-Sent Events)."""
        for _, job in self._follow(job_id, last_event_id, read_timeout=60.0):
            yield job

    def _follow(
        self, job_id: str, after: int | None, *, read_timeout: float
    ) -> Generator[tuple[int | None, Job], None, None]:
        """(event id, job) of each event after ``after``; ``httpx.ReadTimeout`` after
        ``read_timeout`` seconds without a byte."""
        headers = {"Last-Event-ID": str(after)} if after is not None else {}
        timeout = httpx.Timeout(30.0, read=read_timeout)
        with self._http.stream(
            "GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=timeout
        ) as response:
            if response.status_code == 204:
                return
            if response.status_code >= 400:
                response.read()
                _check(response)
            decoder = SseDecoder()
            for line in response.iter_lines():
                if (data := decoder.feed(line)) is not None:
                    yield decoder.last_id, Job.from_json(data)

    def wait(
        self, job_id: str, *, timeout: float | None = None, on_update: Callable[[Job], None] | None = None
    ) -> Job:
        """Follow the job until it ends, every change reported once it comes: over SSE,
        resumed after the last event seen; waiting in line, the job is read again every
        ``queue_poll_seconds`` of quiet (its place moves with no event of its own); if
        streaming fails, by polling."""
        deadline = None if timeout is None else time.monotonic() + timeout
        waiting = _Waiting(self.get(job_id), on_update, self.queue_poll_seconds)
        while not waiting.job.done:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {waiting.job.status} after {timeout} s")
            in_line = waiting.in_line
            try:
                following = self._follow(job_id, waiting.after, read_timeout=waiting.quiet_seconds)
                with contextlib.closing(following) as updates:
                    for event_id, update in updates:
                        if waiting.saw(event_id, update, in_line) or (
                            deadline is not None and time.monotonic() > deadline
                        ):
                            break
            except httpx.ReadTimeout:
                pass  # a quiet line: the place moves with no event of its own; read it again
            except (httpx.TransportError, PixelmotionError):
                time.sleep(1.0)  # the stream failed: poll instead
            if not waiting.job.done:
                waiting.read_again(self.get(job_id))
        return waiting.job

    def download(
        self,
        job_id: str,
        directory: str | Path,
        *,
        formats: tuple[str, ...] = ("gif", "sheet", "sheetJson", "frames"),
    ) -> dict[str, Path]:
        """Save a completed job's results; returns {format: path}."""
        saved: dict[str, Path] = {}
        for name, route, path in _download_paths(directory, formats):
            # With S3 storage the results answer 307 to a presigned URL (httpx drops our token there).
            response = _check(self._http.get(f"/v1/jobs/{job_id}/{route}", follow_redirects=True))
            path.write_bytes(response.content)
            saved[name] = path
        return saved


class AsyncClient(_Connected):
    _http: httpx.AsyncClient

    def _open(self, headers: dict[str, str], timeout: float, retries: int) -> None:
        transport = httpx.AsyncHTTPTransport(retries=retries)
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def create(self, prompt: str, *, idempotency_key: str | None = None, **options: Any) -> Job:
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        response = _check(
            await self._http.post("/v1/jobs", json=create_body(prompt, **options), headers=headers)
        )
        return await self.get(response.json()["jobId"])

    async def get(self, job_id: str) -> Job:
        return Job.from_json(_check(await self._http.get(f"/v1/jobs/{job_id}")).json())

    async def render(self, job_id: str, **options: Any) -> Job:
        """Re-render a job's paid clip with other canvas options (see ``Client.render``)."""
        answer = _check(await self._http.post(f"/v1/jobs/{job_id}/renders", json=canvas_body(**options)))
        return await self.get(answer.json()["jobId"])

    async def cancel(self, job_id: str) -> Job:
        return Job.from_json(_check(await self._http.post(f"/v1/jobs/{job_id}/cancel")).json())

    async def retry(self, job_id: str) -> Job:
        return Job.from_json(_check(await self._http.post(f"/v1/jobs/{job_id}/retry")).json())

    async def events(self, job_id: str, *, last_event_id: int | None = None) -> AsyncIterator[Job]:
        """Every change of the job, live, until it ends (Server-Sent Events)."""
        async for _, job in self._follow(job_id, last_event_id, read_timeout=60.0):
            yield job

    async def _follow(
        self, job_id: str, after: int | None, *, read_timeout: float
    ) -> AsyncGenerator[tuple[int | None, Job], None]:
        """As ``Client._follow``."""
        headers = {"Last-Event-ID": str(after)} if after is not None else {}
        timeout = httpx.Timeout(30.0, read=read_timeout)
        async with self._http.stream(
            "GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=timeout
        ) as response:
            if response.status_code == 204:
                return
            if response.status_code >= 400:
                await response.aread()
                _check(response)
            decoder = SseDecoder()
            async for line in response.aiter_lines():
                if (data := decoder.feed(line)) is not None:
                    yield decoder.last_id, Job.from_json(data)

    async def download(
        self,
        job_id: str,
        directory: str | Path,
        *,
        formats: tuple[str, ...] = ("gif", "sheet", "sheetJson", "frames"),
    ) -> dict[str, Path]:
        """Save a completed job's results; returns {format: path}."""
        saved: dict[str, Path] = {}
        for name, route, path in _download_paths(directory, formats):
            response = _check(await self._http.get(f"/v1/jobs/{job_id}/{route}", follow_redirects=True))
            path.write_bytes(response.content)
            saved[name] = path
        return saved

    async def wait(
        self, job_id: str, *, timeout: float | None = None, on_update: Callable[[Job], None] | None = None
    ) -> Job:
        """As ``Client.wait``."""
        import asyncio

        async def follow() -> Job:
            waiting = _Waiting(await self.get(job_id), on_update, self.queue_poll_seconds)
            while not waiting.job.done:
                in_line = waiting.in_line
                try:
                    following = self._follow(job_id, waiting.after, read_timeout=waiting.quiet_seconds)
                    async with contextlib.aclosing(following) as updates:
                        async for event_id, update in updates:
                            if waiting.saw(event_id, update, in_line):
                                break
                except httpx.ReadTimeout:
                    pass
                except (httpx.TransportError, PixelmotionError):
                    await asyncio.sleep(1.0)
                if not waiting.job.done:
                    waiting.read_again(await self.get(job_id))
            return waiting.job

        return await asyncio.wait_for(follow(), timeout)
