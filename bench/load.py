"""Load benchmark (issue 6): job submissions and provider callbacks per second, against a bare
FastAPI endpoint, and the claim query and "my jobs" listing on a table of a million jobs.

Run: .venv/bin/python bench/load.py [--quick] [--seconds 10] [--connections 32] [--rows 1000000]

Throughput (``--only throughput``). The load comes from one separate process (raw asyncio
HTTP/1.1 on ``--connections`` keep-alive connections, each sending its next request as soon as
the previous answer is read; requests are built before the clock starts). Each scenario runs
``--warmup`` seconds, then ``--seconds`` measured: rate = answers completed in the window /
window, latency = request written → answer read, per request in the window. The floor and the
SQLite scenarios run again on one connection (half the time): latency without queueing, for
information (at N connections, latency ≈ N / rate).

- floor: a bare FastAPI app (``--serve-bare``; one sync route, a pydantic body, one INSERT into
  SQLite through the project's ``create_engine`` under a process-wide write lock, as the
  repository takes one) served by ``uvicorn.run`` with the arguments ``pixelmotion serve`` uses
  (same log config, access log on);
- SQLite: one ``pixelmotion serve --no-worker`` (nothing processes the jobs, so nothing
  competes): ``POST /v1/jobs`` (202), then callbacks;
- PostgreSQL: two ``pixelmotion serve --no-worker`` on two ports, one schema, connections
  split between them.

Submissions come from distinct users (each connection its own users, each user at most 10
jobs), so the per-user limits stay at their defaults (20 active jobs, 200 an hour) and refuse
nothing. Callbacks: jobs are written straight into the database as the worker leaves them after
submitting (``queued``, with a generation id); each job then gets what Luma sends: ``dreaming``
twice and ``completed`` twice (applied, duplicate ignored, applied, duplicate ignored), each a
POST of a Generation object to the job's signed callback URL.

Tables (``--only tables``): ``--rows`` jobs bulk-written into the real schema (``migrate()``;
SQLite: a recursive CTE; PostgreSQL: ``generate_series``, then ``ANALYZE`` as autovacuum would):
10,000 users of ~100 jobs and one heavy user with 5 %; the newest are active: 3,000 pending jobs
not yet sent (a backlog), 10 in flight, and processing jobs due. Timed, in this process, with
the repository itself: ``Store.claim`` (each claimed job released and rescheduled an hour
on, as a worker moves on) without caps, and with Luma's caps full (the claim passes over the
backlog); ``list_for_user`` as ``GET /v1/jobs`` calls it (``as_user``), for a typical user, the
heavy user and a deep page; and the route's whole work for a page of 20 waiting jobs
(listing + ``queue_position`` each). A query over its target prints its plan (``--explain``:
every query's plan).

Needs the PostgreSQL at 127.0.0.1:5432 (``make bench-load`` starts one) or
``PIXELMOTION_BENCH_POSTGRES_URL``; without it the PostgreSQL parts are skipped. Each run uses
fresh SQLite files and a fresh schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import Empty
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field

from _common import (
    AUDIENCE,
    HOST,
    POSTGRES_URL,
    free_port,
    insert_jobs,
    load,
    machine,
    percentile,
    postgres_available,
    postgres_schema,
    process_cpu_seconds,
    running,
    serve,
    server_env,
)
from pixelmotion.config import DEFAULT_PROMPT_TEMPLATE, LUMA_CREATES_PER_MINUTE, LUMA_MAX_IN_FLIGHT
from pixelmotion.jobs.caps import ProviderCaps
from pixelmotion.jobs.requests import build_spec
from pixelmotion.jobs.states import MESSAGES, PROGRESS, JobStatus
from pixelmotion.security import CALLBACK_PATH, callback_token, callback_url, issue_token
from pixelmotion.store import Store, create_engine, migrate, utcnow
from pixelmotion.store.rows import new_job_row

TARGET_SUBMISSIONS = 2000.0  # per second, SQLite, one process
TARGET_CALLBACKS = 3000.0
TARGET_SHARE = 0.30  # of the bare endpoint's rate
TARGET_P99_MS = 25.0
TARGET_QUERY_P99_MS = 10.0

REQUEST = {"prompt": "a knight swinging a sword", "width": 64, "height": 64, "colorCount": 16, "fps": 12}
JOBS_PER_USER = 10  # per pass over a connection's users; the default limit is 20 active
CALLBACK_STATES = ("dreaming", "dreaming", "completed", "completed")  # as Luma sends them, duplicates too
LUMA_CAPS = ProviderCaps(max_in_flight=LUMA_MAX_IN_FLIGHT, creates_per_minute=LUMA_CREATES_PER_MINUTE)
BACKLOG = 3000  # pending jobs not yet sent, at 1M rows
IN_FLIGHT = LUMA_MAX_IN_FLIGHT  # the caps are full
HEAVY_USER = "heavy-user"


# ---------------------------------------------------------------- the load generator (a child process)


@dataclass
class LoadSpec:
    kind: str  # "submit" or "callback"
    ports: list[int]
    connections: int
    warmup: float
    seconds: float
    jwt_secret: str = ""
    user_prefix: str = ""
    requests_per_connection: int = 0
    secret_key: str = ""
    jobs: list[tuple[str, str]] = field(default_factory=list)  # (job id, generation id)


@dataclass
class LoadResult:
    latencies_ms: list[float]
    window_s: float
    statuses: dict[int, int]
    outcomes: dict[str, int]
    errors: dict[str, int]
    unexpected: list[str]
    client_cpu_s: float
    max_jobs_per_user: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.window_s if self.window_s > 0 else 0.0


def _http_post(port: int, path: str, body: bytes, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def submission_requests(spec: LoadSpec, connection: int) -> list[bytes]:
    """One connection's requests: its own users, one after another, JOBS_PER_USER jobs each."""
    port = spec.ports[connection % len(spec.ports)]
    users = max(1, math.ceil(spec.requests_per_connection / JOBS_PER_USER))
    body = json.dumps(REQUEST).encode()
    per_user = [
        _http_post(
            port,
            "/v1/jobs",
            body,
            issue_token(spec.jwt_secret, f"{spec.user_prefix}-{connection}-{u}", audience=AUDIENCE),
        )
        for u in range(users)
    ]
    return [per_user[n // JOBS_PER_USER % users] for n in range(spec.requests_per_connection)]


def generation_body(generation_id: str, state: str, url: str, created_at: str) -> bytes:
    """A Generation object as Luma POSTs it to the callback URL."""
    video = f"https://storage.cdn-luma.com/dream_machine/{generation_id}/video.mp4"
    return json.dumps(
        {
            "id": generation_id,
            "generation_type": "video",
            "state": state,
            "failure_reason": None,
            "created_at": created_at,
            "assets": {
                "video": video if state == "completed" else None,
                "image": None,
                "progress_video": None,
            },
            "model": "ray-2",
            "request": {
                "generation_type": "video",
                "prompt": "Pixel art animation: a knight swinging a sword.",
                "model": "ray-2",
                "resolution": "720p",
                "duration": "5s",
                "aspect_ratio": "16:9",
                "loop": False,
                "callback_url": url,
            },
        }
    ).encode()


def callback_requests(spec: LoadSpec, connection: int) -> list[bytes]:
    """One connection's share of the jobs, each job's callbacks in Luma's order."""
    port = spec.ports[connection % len(spec.ports)]
    created = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    requests: list[bytes] = []
    for job_id, generation_id in spec.jobs[connection :: spec.connections]:
        url = callback_url(f"http://{HOST}:{port}", spec.secret_key, job_id)
        path = f"{CALLBACK_PATH.format(job_id=job_id)}?token={callback_token(spec.secret_key, job_id)}"
        for state in CALLBACK_STATES:
            requests.append(_http_post(port, path, generation_body(generation_id, state, url, created)))
    return requests


async def _generate(spec: LoadSpec, queue: Any) -> LoadResult:
    plans = [
        submission_requests(spec, c) if spec.kind == "submit" else callback_requests(spec, c)
        for c in range(spec.connections)
    ]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    unexpected: list[str] = []
    sent_per_connection = [0] * spec.connections
    queue.put(("started", None))
    cpu0 = time.process_time()
    started = time.perf_counter()
    window_start = started + spec.warmup
    deadline = window_start + spec.seconds

    async def drive(c: int) -> None:
        port = spec.ports[c % len(spec.ports)]
        requests = plans[c]
        reader, writer = await asyncio.open_connection(HOST, port)
        n = 0
        try:
            while time.perf_counter() < deadline and requests:
                request = requests[n % len(requests)]
                n += 1
                t0 = time.perf_counter()
                try:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    lower = head.lower()
                    at = lower.find(b"\r\ncontent-length:")
                    length = int(head[at + 17 : head.index(b"\r\n", at + 2)]) if at >= 0 else 0
                    body = await reader.readexactly(length) if length else b""
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
                    errors[type(error).__name__] += 1
                    writer.close()
                    await asyncio.sleep(0.05)
                    reader, writer = await asyncio.open_connection(HOST, port)
                    continue
                t1 = time.perf_counter()
                status = int(head[9:12])
                if status >= 300 and len(unexpected) < 5:
                    unexpected.append(f"{status} {body[:200].decode(errors='replace')}")
                if window_start <= t1 <= deadline:
                    latencies.append((t1 - t0) * 1000)
                    statuses[status] += 1
                    mark = body.find(b'"outcome":"')
                    if mark >= 0:
                        outcomes[body[mark + 11 : body.index(b'"', mark + 11)].decode()] += 1
                if b"\r\nconnection: close" in lower:
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port)
        finally:
            sent_per_connection[c] = n
            writer.close()

    await asyncio.gather(*(drive(c) for c in range(spec.connections)))
    max_per_user = 0
    if spec.kind == "submit":
        # Past the end of its list a connection starts again: its users get more jobs.
        rpc = spec.requests_per_connection
        max_per_user = max(min(n, JOBS_PER_USER) * max(1, math.ceil(n / rpc)) for n in sent_per_connection)
    return LoadResult(
        latencies_ms=latencies,
        window_s=spec.seconds,
        statuses=dict(statuses),
        outcomes=dict(outcomes),
        errors=dict(errors),
        unexpected=unexpected,
        client_cpu_s=time.process_time() - cpu0,
        max_jobs_per_user=max_per_user,
    )


def load_process(spec: LoadSpec, queue: Any) -> None:
    """The load generator's process: build the requests, run them, send the result back."""
    try:
        queue.put(("done", asyncio.run(_generate(spec, queue))))
    except BaseException as error:
        queue.put(("error", f"{type(error).__name__}: {error}"))


# ---------------------------------------------------------------- CPU while it runs


def cpu_busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def postgres_cpu_seconds() -> dict[int, float]:
    """CPU seconds so far of each ``postgres`` process on the machine (server and backends)."""
    seconds: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                seconds[int(entry.name)] = process_cpu_seconds(int(entry.name))
        except (OSError, ValueError):
            continue
    return seconds


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings by the processes alive at the second one."""
    return sum(spent - before.get(pid, 0.0) for pid, spent in after.items())


@dataclass
class Scenario:
    name: str
    kind: str
    result: LoadResult
    server_cpu: float  # share of one core, summed over the API processes
    db_cpu: float | None
    machine_cpu: float  # share of all cores
    processes: int = 1
    light: bool = False  # one connection: latency without queueing, not a target


def _receive(queue: Any, child: Any, timeout: float) -> tuple[str, Any]:
    """The child's next message; fails at once if the child died without one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return queue.get(timeout=0.5)  # type: ignore[no-any-return]
        except Empty:
            if not child.is_alive():
                return "error", f"the load generator exited ({child.exitcode})"
    return "error", "no word from the load generator"


def run_load(
    name: str, spec: LoadSpec, server_pids: list[int], *, postgres: bool = False, light: bool = False
) -> Scenario:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=load_process, args=(spec, queue), name="load-generator")
    child.start()
    # The child builds its requests, then starts its clock and says so; measure the servers'
    # CPU over most of its measured window, from outside.
    kind, payload = _receive(queue, child, 120)
    if kind != "started":
        child.join(10)
        raise RuntimeError(f"load generator failed: {payload}")
    time.sleep(spec.warmup + spec.seconds * 0.1)
    cpu0 = sum(process_cpu_seconds(pid) for pid in server_pids)
    db0 = postgres_cpu_seconds() if postgres else {}
    busy0, total0 = cpu_busy_ticks()
    started = time.monotonic()
    time.sleep(spec.seconds * 0.8)
    elapsed = time.monotonic() - started
    cpu1 = sum(process_cpu_seconds(pid) for pid in server_pids)
    db1 = postgres_cpu_seconds() if postgres else {}
    busy1, total1 = cpu_busy_ticks()
    kind, payload = _receive(queue, child, spec.warmup + spec.seconds + 300)
    child.join(30)
    if kind != "done":
        raise RuntimeError(f"load generator failed: {payload}")
    return Scenario(
        name=name,
        kind=spec.kind,
        result=payload,
        server_cpu=(cpu1 - cpu0) / elapsed,
        db_cpu=cpu_spent(db0, db1) / elapsed if postgres else None,
        machine_cpu=(busy1 - busy0) / max(1, total1 - total0),
        processes=len(server_pids),
        light=light,
    )


# ---------------------------------------------------------------- the floor: a bare endpoint


class BareBody(BaseModel):
    prompt: str
    width: int
    height: int
    color_count: int = Field(alias="colorCount")
    fps: int


def bare_app(database_url: str) -> Any:
    """One route that validates the body and inserts one row into SQLite: nothing else."""
    from fastapi import FastAPI

    engine = create_engine(database_url)
    metadata = sa.MetaData()
    rows = sa.Table(
        "bare_jobs",
        metadata,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    metadata.create_all(engine)
    write_lock = threading.Lock()  # one writer at a time, as the repository does on SQLite
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/jobs", status_code=202)
    def create(body: BareBody) -> dict[str, str]:
        job_id = str(uuid.uuid4())
        with write_lock, engine.begin() as conn:
            conn.execute(
                rows.insert().values(
                    id=job_id,
                    prompt=body.prompt,
                    width=body.width,
                    height=body.height,
                    created_at=datetime.now(UTC).isoformat(),
                )
            )
        return {"jobId": job_id, "status": "pending"}

    return app


def serve_bare(port: int, database_url: str) -> None:
    """``uvicorn.run`` with the arguments ``pixelmotion serve`` passes (cli.py)."""
    import uvicorn

    from pixelmotion.logs import logging_config

    uvicorn.run(bare_app(database_url), host=HOST, port=port, log_config=logging_config("json"))


# ---------------------------------------------------------------- throughput scenarios


def queued_job_rows(count: int, now: datetime) -> list[dict[str, Any]]:
    """Jobs as the worker leaves them after submitting: queued, with a generation id."""
    spec = build_spec(
        prompt=str(REQUEST["prompt"]),
        width=64,
        height=64,
        color_count=16,
        fps=12,
        template=DEFAULT_PROMPT_TEMPLATE,
    )
    rows = []
    for n in range(count):
        row = new_job_row(
            spec,
            job_id=str(uuid.uuid4()),
            user_id=f"callback-user-{n % 1000}",
            provider="emulator",
            now=now,
            run_at=now + timedelta(seconds=90),  # the callback grace period
        )
        row.update(
            status=JobStatus.QUEUED.value,
            progress=PROGRESS[JobStatus.QUEUED],
            progress_message=MESSAGES[JobStatus.QUEUED],
            luma_generation_id=str(uuid.uuid4()),
            submitted_at=now,
        )
        rows.append(row)
    return rows


@dataclass
class Throughput:
    connections: int
    warmup: float
    seconds: float
    scenarios: list[Scenario] = field(default_factory=list)

    def spec(self, kind: str, ports: list[int], light: bool = False, **values: Any) -> LoadSpec:
        """The load for one scenario; ``light``: one connection for half the time."""
        return LoadSpec(
            kind=kind,
            ports=ports,
            connections=1 if light else self.connections,
            warmup=min(1.0, self.warmup) if light else self.warmup,
            seconds=self.seconds / 2 if light else self.seconds,
            **values,
        )

    def submissions_per_connection(self, light: bool = False) -> int:
        # Room for twice the target (one connection: 1,000/s) before a connection wraps around
        # its list (its users would then have more than JOBS_PER_USER jobs each).
        if light:
            return math.ceil(1000 * (self.warmup + self.seconds))
        return math.ceil(2 * TARGET_SUBMISSIONS * (self.warmup + self.seconds) / self.connections)

    def callback_jobs(self, light: bool = False) -> int:
        # Room for 1.5 times the target (one connection: 1,000/s); past that, jobs get their
        # callbacks again (ignored).
        rate = 1000 if light else 1.5 * TARGET_CALLBACKS
        return math.ceil(rate * (self.warmup + self.seconds) / len(CALLBACK_STATES))


def measure_bare(run: Throughput) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pm-bench-load-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bare.db'}"
        command = [sys.executable, str(Path(__file__).resolve()), "--serve-bare", str(port), url]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELMOTION_")}
        with running(command, env, Path(tmp) / "bare.log", port, what="bare endpoint") as process:
            for light in (False, True):
                spec = run.spec(
                    "submit",
                    [port],
                    light,
                    jwt_secret=secrets.token_hex(32),  # the bare endpoint reads no token
                    user_prefix="bare",
                    requests_per_connection=run.submissions_per_connection(light),
                )
                name = "bare FastAPI + 1 SQLite INSERT (floor)"
                run.scenarios.append(run_load(name, spec, [process.pid], light=light))
                report_progress(run.scenarios[-1])


@contextmanager
def api_processes(database_url: str, count: int) -> Iterator[tuple[list[int], list[int], str, str]]:
    """``count`` × ``pixelmotion serve --no-worker`` on one database: (ports, pids, jwt secret,
    callback-signing key)."""
    jwt_secret, secret_key = secrets.token_hex(32), secrets.token_hex(16)
    with ExitStack() as stack:
        ports, pids = [], []
        for _ in range(count):
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pm-bench-load-")))
            port = free_port()
            env = server_env(data_dir, port, database_url, jwt_secret, secret_key=secret_key)
            process = stack.enter_context(serve(env, data_dir / "serve.log", worker=False))
            ports.append(port)
            pids.append(process.pid)
        yield ports, pids, jwt_secret, secret_key


def measure_service(run: Throughput, label: str, database_url: str, processes: int, light: bool) -> None:
    """Submissions, then callbacks, on ``processes`` API processes; with ``light``, each also
    on one connection (after the saturated run)."""
    postgres = database_url.startswith("postgresql")
    with api_processes(database_url, processes) as (ports, pids, jwt_secret, secret_key):
        for one in (False, True) if light else (False,):
            spec = run.spec(
                "submit",
                ports,
                one,
                jwt_secret=jwt_secret,
                user_prefix=f"load-{uuid.uuid4().hex[:6]}",
                requests_per_connection=run.submissions_per_connection(one),
            )
            name = f"{label}: POST /v1/jobs"
            run.scenarios.append(run_load(name, spec, pids, postgres=postgres, light=one))
            report_progress(run.scenarios[-1])
        for one in (False, True) if light else (False,):
            rows = queued_job_rows(run.callback_jobs(one), utcnow())
            insert_jobs(database_url, rows)
            jobs = [(str(row["id"]), str(row["luma_generation_id"])) for row in rows]
            spec = run.spec("callback", ports, one, secret_key=secret_key, jobs=jobs)
            name = f"{label}: callbacks"
            run.scenarios.append(run_load(name, spec, pids, postgres=postgres, light=one))
            report_progress(run.scenarios[-1])


def report_progress(scenario: Scenario) -> None:
    r = scenario.result
    name = scenario.name + (" (1 connection)" if scenario.light else "")
    print(
        f"  {name}: {r.rate:,.0f}/s, p50 {percentile(r.latencies_ms, 50):.1f} ms, "
        f"p99 {percentile(r.latencies_ms, 99):.1f} ms ({load()})",
        flush=True,
    )


def answers(result: LoadResult) -> str:
    text = ", ".join(f"{status}×{count}" for status, count in sorted(result.statuses.items()))
    if result.outcomes:
        text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())) + ")"
    if result.errors:
        text += f"; errors {result.errors}"
    return text


def print_throughput(run: Throughput) -> list[tuple[str, bool]]:
    print()
    print(
        f"Throughput: {run.connections} keep-alive connections from one load-generator process, "
        f"{run.seconds:g} s measured after {run.warmup:g} s warm-up"
    )
    header = (
        f"{'scenario':<44} {'rate/s':>7} {'% bare':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'API CPU':>8} {'PG CPU':>7} {'machine':>7} {'client':>7}  answers"
    )
    print(header)
    bare = next((s for s in run.scenarios if "floor" in s.name and not s.light), None)
    bare_rate = bare.result.rate if bare else float("nan")
    for s in run.scenarios:
        r = s.result
        share = r.rate / bare_rate * 100 if bare_rate > 0 else float("nan")
        db = f"{s.db_cpu * 100:>6.0f}%" if s.db_cpu is not None else f"{'':>7}"
        name = "  … on 1 connection (latency, no queueing)" if s.light else s.name
        print(
            f"{name:<44} {r.rate:>7,.0f} {share:>5.0f}% {percentile(r.latencies_ms, 50):>7.1f} "
            f"{percentile(r.latencies_ms, 99):>7.1f} {max(r.latencies_ms, default=float('nan')):>7.1f} "
            f"{s.server_cpu * 100:>7.0f}% {db} {s.machine_cpu * 100:>6.0f}% "
            f"{r.client_cpu_s / (r.window_s + (1.0 if s.light else run.warmup)) * 100:>6.0f}%  {answers(r)}"
        )
        for line in r.unexpected[:3]:
            print(f"{'':<46}e.g. {line}")
    print(
        "  (API CPU: share of one core, summed over the API processes; PG CPU: every postgres "
        "process; machine: all cores busy; client: the load generator)"
    )
    submits = [s for s in run.scenarios if s.kind == "submit" and "floor" not in s.name]
    if submits:
        most = max(s.result.max_jobs_per_user for s in submits)
        print(
            f"  Per-user limits at their defaults (20 active jobs, 200 an hour): each user submitted "
            f"at most {most} jobs."
        )

    verdicts: list[tuple[str, bool]] = []

    def find(prefix: str, kind: str) -> Scenario | None:
        return next(
            (s for s in run.scenarios if s.name.startswith(prefix) and s.kind == kind and not s.light), None
        )

    for kind, target, what in (
        ("submit", TARGET_SUBMISSIONS, "submissions"),
        ("callback", TARGET_CALLBACKS, "callbacks"),
    ):
        ours = find("SQLite", kind)
        if ours is None:
            continue
        r = ours.result
        ok_status = set(r.statuses) == {202 if kind == "submit" else 200} and not r.errors
        verdicts.append(
            (f"SQLite, 1 process: ≥ {target:,.0f} {what}/s (got {r.rate:,.0f})", r.rate >= target)
        )
        share = r.rate / bare_rate if bare_rate > 0 else float("nan")
        verdicts.append(
            (
                f"SQLite {what}: ≥ {TARGET_SHARE:.0%} of the bare endpoint's rate (got {share:.0%})",
                share >= TARGET_SHARE,
            )
        )
        p99 = percentile(r.latencies_ms, 99)
        verdicts.append((f"SQLite {what}: p99 < {TARGET_P99_MS:g} ms (got {p99:.1f})", p99 < TARGET_P99_MS))
        verdicts.append((f"SQLite {what}: every answer {202 if kind == 'submit' else 200}", ok_status))
        pg = find("PostgreSQL", kind)
        if pg is not None:
            verdicts.append(
                (
                    f"PostgreSQL, 2 processes: {what} no slower than SQLite "
                    f"({pg.result.rate:,.0f}/s vs {r.rate:,.0f}/s)",
                    pg.result.rate >= r.rate,
                )
            )
    return verdicts


# ---------------------------------------------------------------- a million jobs


@dataclass(frozen=True)
class Shape:
    """Which rows the table holds; the newest rows are the active ones."""

    rows: int
    processing: int  # due, newest (claimed while the caps are full)
    in_flight: int = IN_FLIGHT
    backlog: int = BACKLOG

    @property
    def users(self) -> int:
        return max(100, self.rows // 100)

    @property
    def step_seconds(self) -> int:
        return max(1, 90 * 86400 // self.rows)  # the rows span 90 days


FILL_COLUMNS = (
    "id, user_id, prompt, provider_prompt, width, height, color_count, fps, duration, model, "
    "resolution, aspect_ratio, loop, dither, fit, provider, status, progress, progress_message, "
    "luma_generation_id, created_at, updated_at, completed_at, submitted_at, next_run_at, attempts, "
    "resubmits"
)


def fill_select(dialect: str) -> str:
    """The SELECT that makes the rows, from ``n(i)`` and the bound ``base`` time."""
    if dialect == "sqlite":
        i = "i"
        new_id = "lower(hex(randomblob(16)))"
        at = "strftime('%Y-%m-%d %H:%M:%S', :base, '-' || ((:rows - i) * :step) || ' seconds') || '.000000'"
        later = "strftime('%Y-%m-%d %H:%M:%S', :base, '+3600 seconds') || '.000000'"
        false = "0"
    else:
        i = "i::bigint"  # i * 7919 outgrows a 32-bit integer
        new_id = "md5(random()::text || i::text)"
        at = "CAST(:base AS timestamptz) - make_interval(secs => (:rows - i) * :step)"
        later = "CAST(:base AS timestamptz) + interval '1 hour'"
        false = "false"
    job_id = new_id if dialect == "sqlite" else f"{new_id}::uuid"
    return f"""
SELECT {job_id},
  CASE WHEN i % 20 = 0 THEN '{HEAVY_USER}' ELSE 'user-' || (({i} * 7919) % :users) END,
  'a knight swinging a sword', 'Pixel art animation: a knight swinging a sword.',
  64, 64, 16, 12, 5, 'ray-2', '720p', '16:9', {false}, 'none', 'crop', 'luma', status,
  CASE status WHEN 'completed' THEN 100 WHEN 'processing' THEN 80 WHEN 'dreaming' THEN 60 ELSE 0 END,
  CASE status WHEN 'completed' THEN 'Done!' WHEN 'pending' THEN 'Waiting to start...' ELSE status END,
  CASE WHEN status IN ('completed', 'failed', 'processing', 'dreaming') THEN {new_id} END,
  at, at,
  CASE WHEN status = 'completed' THEN at END,
  CASE WHEN status IN ('completed', 'failed', 'processing', 'dreaming') THEN at END,
  CASE WHEN status IN ('processing', 'pending') THEN at WHEN status = 'dreaming' THEN {later} END,
  0, 0
FROM (
  SELECT i, {at} AS at,
    CASE
      WHEN :rows - i < :processing THEN 'processing'
      WHEN :rows - i < :processing + :in_flight THEN 'dreaming'
      WHEN :rows - i < :processing + :in_flight + :backlog THEN 'pending'
      WHEN i % 100 < 90 THEN 'completed'
      WHEN i % 100 < 97 THEN 'failed'
      ELSE 'canceled'
    END AS status
  FROM n
) AS r"""


def fill(engine: sa.Engine, shape: Shape) -> float:
    started = time.monotonic()
    base = utcnow()
    params: dict[str, Any] = {
        "rows": shape.rows,
        "users": shape.users,
        "step": shape.step_seconds,
        "processing": shape.processing,
        "in_flight": shape.in_flight,
        "backlog": shape.backlog,
    }
    if engine.dialect.name == "sqlite":
        series = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)"
        sql = f"INSERT INTO video_generation_jobs ({FILL_COLUMNS}) {series} {fill_select('sqlite')}"
        params["base"] = base.strftime("%Y-%m-%d %H:%M:%S")
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MB for the bulk insert
            conn.execute(sa.text(sql), params)
            conn.exec_driver_sql("PRAGMA cache_size=-2000")
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        series = "WITH n(i) AS (SELECT generate_series(1, :rows))"
        sql = f"INSERT INTO video_generation_jobs ({FILL_COLUMNS}) {series} {fill_select('postgresql')}"
        params["base"] = base.isoformat()
        with engine.begin() as conn:
            conn.execute(sa.text(sql), params)
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE video_generation_jobs")  # as autovacuum would, soon after
    return time.monotonic() - started


@dataclass
class QueryResult:
    database: str
    name: str
    latencies_ms: list[float]
    note: str = ""
    plans: list[str] = field(default_factory=list)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


@contextmanager
def captured_statements(engine: sa.Engine) -> Iterator[list[tuple[int, str, Any]]]:
    """The SQL statements run on ``engine`` inside the block: (connection, statement, parameters)."""
    statements: list[tuple[int, str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append((id(conn), statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def query_plans(engine: sa.Engine, call: Callable[[], object]) -> list[str]:
    """Run ``call`` once, then EXPLAIN each distinct query it ran, replaying the scope each of
    its connections set first (``set_config``, ``SET LOCAL ROLE``: Row Level Security applies
    as in the real call); rolled back: nothing is executed again."""
    with captured_statements(engine) as statements:
        call()
    plans = []
    seen: set[str] = set()
    with engine.connect() as conn:
        previous = None
        for original, statement, parameters in statements:
            if original != previous:  # another connection of the call: start from no scope
                conn.rollback()
                previous = original
            words = statement.lstrip().split(None, 1)
            head = words[0].upper() if words else ""
            if "set_config" in statement or head == "SET":
                conn.exec_driver_sql(statement, parameters)
                continue
            if (
                head not in ("SELECT", "UPDATE", "INSERT", "DELETE", "WITH")
                or statement.strip() == "SELECT 1"
            ):
                continue
            if statement in seen:  # the same query again (e.g. one per job on a page): one plan
                continue
            seen.add(statement)
            if engine.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
                plan = "\n".join(f"      {row[-1]}" for row in rows)
            else:
                rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
                plan = "\n".join(f"      {row[0]}" for row in rows)
            plans.append(f"    {' '.join(statement.split())[:300]}\n{plan}")
        conn.rollback()
    return plans


def timed(call: Callable[[], object], samples: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        call()
    latencies = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def measure_tables(
    database: str, database_url: str, rows: int, samples: int, explain: bool
) -> list[QueryResult]:
    engine = create_engine(database_url)
    try:
        migrate(engine)
        shape = Shape(rows=rows, processing=samples + 60, backlog=max(100, BACKLOG * rows // 1_000_000))
        seconds = fill(engine, shape)
        print(f"  {database}: {rows:,} jobs written in {seconds:.1f} s ({load()})", flush=True)
        repository = Store(engine)
        results: list[QueryResult] = []
        owner = f"bench-{os.getpid()}"
        later = utcnow() + timedelta(hours=1)

        def claim_and_release(caps: ProviderCaps | None) -> float:
            """One claim, timed; the job is then released and made due an hour on (untimed)."""
            started = time.perf_counter()
            job = repository.queue.claim(owner, lease_seconds=60, caps=caps)
            elapsed = time.perf_counter() - started
            if job is None:
                raise RuntimeError("the claim found no job")
            repository.queue.release(job.id, owner, reschedule=(job.status, later))
            return elapsed * 1000

        def timed_claims(caps: ProviderCaps | None) -> list[float]:
            for _ in range(5):
                claim_and_release(caps)
            return [claim_and_release(caps) for _ in range(samples)]

        def claim_plans(caps: ProviderCaps | None) -> list[str]:
            jobs: list[Any] = []
            plans = query_plans(
                engine, lambda: jobs.append(repository.queue.claim(owner, lease_seconds=60, caps=caps))
            )
            for job in jobs:
                if job is not None:
                    repository.queue.release(job.id, owner, reschedule=(job.status, later))
            return plans

        # With Luma's caps full first: it passes over the whole backlog to a processing job.
        results.append(
            QueryResult(
                database,
                "claim, Luma's caps full (skips backlog)",
                timed_claims(LUMA_CAPS),
                f"{shape.backlog:,} waiting, {IN_FLIGHT} in flight",
            )
        )
        results.append(
            QueryResult(database, "claim, no caps (oldest due job)", timed_claims(None), "emulator default")
        )

        rng = random.Random(6)
        heavy = repository.as_user(HEAVY_USER)
        heavy_count = rows // 20
        # The heavy user's page just past its processing jobs: 20 jobs waiting to be sent.
        newest = heavy.jobs.list_for_user(HEAVY_USER, limit=100)
        first_waiting = next((job.created_at for job in newest if job.status is JobStatus.PENDING), None)
        waiting_page = first_waiting + timedelta(microseconds=1) if first_waiting else None
        oldest = utcnow() - timedelta(seconds=shape.rows * shape.step_seconds)

        def typical() -> object:
            user = f"user-{rng.randrange(shape.users)}"
            return repository.as_user(user).jobs.list_for_user(user, limit=20)

        def heavy_first() -> object:
            return heavy.jobs.list_for_user(HEAVY_USER, limit=20)

        def heavy_deep() -> object:
            before = oldest + (utcnow() - oldest) * rng.random()
            return heavy.jobs.list_for_user(HEAVY_USER, limit=20, before=before)

        def route_page() -> object:
            # GET /v1/jobs: the listing, then each job's queue position (api/views/jobs.py).
            jobs = heavy.jobs.list_for_user(HEAVY_USER, limit=20, before=waiting_page)
            return [repository.queue.queue_position(job) for job in jobs]

        listing = [
            ("listing, typical user (~100 jobs)", typical, "list_for_user, first page"),
            (f"listing, heavy user ({heavy_count:,} jobs)", heavy_first, "first page"),
            ("listing, heavy user, deep page", heavy_deep, "cursor at a random time"),
            ("GET /v1/jobs work: 20 waiting jobs", route_page, "listing + 20 queue_position (info)"),
        ]
        for name, call, note in listing:
            results.append(QueryResult(database, name, timed(call, samples), note))

        calls = {name: call for name, call, _ in listing}
        for result in results:
            if explain or result.p99 >= TARGET_QUERY_P99_MS:
                if result.name in calls:
                    result.plans = query_plans(engine, calls[result.name])
                else:
                    result.plans = claim_plans(LUMA_CAPS if "caps full" in result.name else None)
        return results
    finally:
        engine.dispose()


def print_tables(results: list[QueryResult], rows: int) -> list[tuple[str, bool]]:
    print()
    print(f"Queries on a table of {rows:,} jobs, timed around the repository call (ms)")
    print(f"{'database':<11} {'query':<42} {'n':>4} {'p50':>6} {'p99':>6} {'max':>6}  target  note")
    verdicts = []
    for r in results:
        ok = r.p99 < TARGET_QUERY_P99_MS
        print(
            f"{r.database:<11} {r.name:<42} {len(r.latencies_ms):>4} {percentile(r.latencies_ms, 50):>6.2f} "
            f"{r.p99:>6.2f} {max(r.latencies_ms):>6.2f}  {'met' if ok else 'MISSED':<6}  {r.note}"
        )
        if r.name.startswith(("claim", "listing")):
            verdicts.append(
                (f"{r.database} {r.name}: p99 < {TARGET_QUERY_P99_MS:g} ms (got {r.p99:.2f})", ok)
            )
    for r in results:
        if r.plans:
            print()
            print(f"Plan: {r.database}, {r.name}")
            for plan in r.plans:
                print(plan)
    return verdicts


# ---------------------------------------------------------------- main


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-bare":
        serve_bare(int(sys.argv[2]), sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per load scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections")
    parser.add_argument("--rows", type=int, default=1_000_000, help="jobs in the table for the queries")
    parser.add_argument("--samples", type=int, default=300, help="timed calls per query")
    parser.add_argument("--only", choices=["throughput", "tables"], help="run one part only")
    parser.add_argument("--explain", action="store_true", help="print every query's plan")
    parser.add_argument("--quick", action="store_true", help="4 s per scenario, 100,000 rows, 100 samples")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup = min(args.seconds, 4.0), min(args.warmup, 1.0)
        args.rows, args.samples = min(args.rows, 100_000), min(args.samples, 100)

    began = time.monotonic()
    print(f"pixelmotion load benchmark on {machine()}; {load()}")
    postgres = postgres_available()
    if not postgres:
        print(f"PostgreSQL not reachable at {POSTGRES_URL}: PostgreSQL parts skipped")
    verdicts: list[tuple[str, bool]] = []

    if args.only in (None, "throughput"):
        run = Throughput(connections=args.connections, warmup=args.warmup, seconds=args.seconds)
        print("throughput:", flush=True)
        measure_bare(run)
        with tempfile.TemporaryDirectory(prefix="pm-bench-load-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'pixelmotion.db'}"
            measure_service(run, "SQLite, 1 process", url, 1, light=True)
        if postgres:
            with postgres_schema() as url:
                measure_service(run, "PostgreSQL, 2 processes", url, 2, light=False)
        verdicts += print_throughput(run)

    if args.only in (None, "tables"):
        print()
        print(f"tables: {args.rows:,} jobs, {args.samples} timed calls per query", flush=True)
        results: list[QueryResult] = []
        with tempfile.TemporaryDirectory(prefix="pm-bench-load-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'million.db'}"
            results += measure_tables("SQLite", url, args.rows, args.samples, args.explain)
        if postgres:
            with postgres_schema() as url:
                results += measure_tables("PostgreSQL", url, args.rows, args.samples, args.explain)
        verdicts += print_tables(results, args.rows)

    print()
    print("Targets (issue 6):")
    for text, ok in verdicts:
        print(f"  {'met   ' if ok else 'MISSED'}  {text}")
    print(f"whole run {time.monotonic() - began:.0f} s; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
