"""Request-path benchmark (issue 15): ``wrk`` against ``pixelmotion serve --no-worker`` and a
bare floor app (bench/floor_app.py) in the same run, alternating, route by route.

Run: .venv/bin/python bench/api_wrk.py [--seconds 10] [--connections 16] [--rounds 1]
     [--backlog 10000] [--postgres --processes 2] [--rendering 20] [--profile DIR]

SQLite (default): two phases, each with a fresh service and a fresh floor (SQLite files in a
temporary directory, the emulator provider, loopback): an idle service, then one with
``--backlog`` jobs waiting in line (pending, not yet sent, bulk-inserted as other users' jobs,
older than the benchmark user's). Per route, wrk (``--connections`` connections, 2 threads,
``--seconds`` s; bench/wrk/request.lua sets the bearer tokens and the JSON body) runs on the
floor, then on the service, ``--rounds`` times; the table gives the rate, p50 and p99 of each
and the service's share of the floor's rate (the median over rounds). Routes, in order (the
POST last, as it adds rows): ``GET /v1/jobs/{id}`` (a job of the benchmark user still waiting
in line, so its place in line is computed), ``GET /v1/jobs`` (a page of 20), the callback route
(a ``dreaming`` Generation for a queued job: applied once, then ignored), ``POST /v1/jobs``
(each request the next of 64 users, limits lifted).

``--postgres``: submissions per second, one service process on SQLite against
``--processes`` service processes on one PostgreSQL schema (wrk per process, connections split,
run at once), while a thread samples ``pg_stat_activity`` every 50 ms: the share of the
service's active statements that wait on a lock (``wait_event_type = 'Lock'``). With
``--rounds N`` the two alternate; each PostgreSQL round's ratio to the SQLite round before it is
printed, and their median. ``--users N``: the submissions rotate over N users (64 by default;
every job stays pending, so each user's running count grows by rate × seconds / N a round).
Needs PostgreSQL at 127.0.0.1:5432 or ``PIXELMOTION_BENCH_POSTGRES_URL``.

``--rendering 20``: ``POST /v1/jobs`` p99 on ``pixelmotion serve`` with its worker while it
renders 20 import jobs at once (``--render-connections`` connections, 16 by default, as the other runs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

import floor_app
from _common import (
    AUDIENCE,
    HOST,
    cpu_of,
    free_port,
    insert_jobs,
    load,
    machine,
    postgres_available,
    postgres_pids,
    postgres_schema,
    process_cpu_seconds,
    running,
    serve,
    server_env,
)
from pixelmotion.config import DEFAULT_PROMPT_TEMPLATE
from pixelmotion.jobs.requests import build_spec
from pixelmotion.jobs.states import MESSAGES, PROGRESS, JobStatus
from pixelmotion.providers.emulator.render import render_clip
from pixelmotion.security import CALLBACK_PATH, callback_token, callback_url, issue_token
from pixelmotion.store.rows import new_job_row
from pixelmotion.store.tables import video_generation_jobs as jobs_t

BENCH = Path(__file__).resolve().parent
SCRIPT = BENCH / "wrk" / "request.lua"
REQUEST = {"prompt": "a knight swinging a sword", "width": 64, "height": 64, "colorCount": 16, "fps": 12}
USERS = 64  # submissions rotate over these, so no one user's lock serialises them
LIFTED = {"USER_MAX_ACTIVE_JOBS": "100000000", "USER_JOBS_PER_HOUR": "100000000"}
APP_NAME = "pm_bench_wrk"  # pg_stat_activity's application_name of the service's connections
RESULT = re.compile(r"PMRESULT (.*)")
PIDS: dict[int, int] = {}  # port → pid of each app started


@dataclass
class WrkResult:
    rate: float
    p50_ms: float
    p99_ms: float
    failed: int  # non-2xx answers and socket errors
    cpu_ms: float = 0.0  # the server's CPU time per answer (steadier than rates on a busy host)
    postgres_cpu_ms: float = 0.0  # PostgreSQL's CPU time per answer (a backend exiting meanwhile uncounted)

    @classmethod
    def parse(cls, output: str) -> WrkResult:
        match = RESULT.search(output)
        if match is None:
            raise RuntimeError(f"wrk printed no result:\n{output[-2000:]}")
        values = {key: int(value) for key, value in (item.split("=") for item in match.group(1).split())}
        seconds = values["duration_us"] / 1e6
        failed = sum(values[k] for k in ("non2xx", "connect", "read", "write", "timeout"))
        return cls(values["requests"] / seconds, values["p50_us"] / 1000, values["p99_us"] / 1000, failed)


@dataclass(frozen=True)
class Target:
    """One route of one app, as wrk asks for it."""

    port: int
    method: str
    path: str
    tokens: tuple[str, ...] = ()
    body: str | None = None


def wrk_command(target: Target, connections: int, seconds: float) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "PM_METHOD": target.method,
        "PM_PATH": target.path,
        "PM_TOKENS": ",".join(target.tokens),
    }
    if target.body is not None:
        env["PM_BODY"] = target.body
    threads = str(min(2, connections))
    command = ["wrk", "-t", threads, "-c", str(connections), "-d", f"{seconds:g}s", "-s", str(SCRIPT)]
    return [*command, f"http://{HOST}:{target.port}"], env


def run_wrk(
    target: Target, connections: int, seconds: float, pid: int | None = None, profile: Path | None = None
) -> WrkResult:
    """wrk against ``target``; with ``pid``, that process's CPU per answer; with ``profile``,
    py-spy samples the process (every thread, GIL holders only) into that file meanwhile."""
    command, env = wrk_command(target, connections, seconds)
    cpu = process_cpu_seconds(pid) if pid else 0.0
    with sampled(pid, seconds, profile):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    result = WrkResult.parse(done.stdout)
    if pid:
        answers = result.rate * seconds
        result.cpu_ms = (process_cpu_seconds(pid) - cpu) * 1000 / answers if answers else 0.0
    return result


@contextmanager
def sampled(pid: int | None, seconds: float, profile: Path | None) -> Iterator[None]:
    """py-spy ``record`` on ``pid`` while the body runs: collapsed stacks (one line per stack
    and its sample count, as flamegraph.pl and speedscope read them) in ``profile``."""
    if pid is None or profile is None:
        yield
        return
    spy_bin = str(Path(sys.executable).parent / "py-spy")  # installed with the dev extras
    command = [spy_bin, "record", "--pid", str(pid), "--duration", f"{max(1, int(seconds))}"]
    command += ["--rate", "200", "--gil", "--format", "raw", "--output", str(profile)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.wait(timeout=seconds + 30)


def run_wrk_at_once(
    targets: list[Target], connections: int, seconds: float, profile: Path | None = None
) -> WrkResult:
    """One wrk per target, started together, ``connections`` split between them: the sum,
    with the servers' CPU per answer (``cpu_ms``) and PostgreSQL's (``postgres_cpu_ms``);
    with ``profile``, py-spy samples the first target's process meanwhile."""
    share = max(1, connections // len(targets))
    pids = [PIDS[target.port] for target in targets]
    server_cpu, postgres_cpu = cpu_of(pids), cpu_of(postgres_pids())
    processes = []
    for target in targets:
        command, env = wrk_command(target, share, seconds)
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True))
    with sampled(pids[0], seconds, profile):
        results = [WrkResult.parse(process.communicate()[0]) for process in processes]
    answers = sum(r.rate for r in results) * seconds
    per_answer = 1000 / answers if answers else 0.0
    return WrkResult(
        sum(r.rate for r in results),
        max(r.p50_ms for r in results),
        max(r.p99_ms for r in results),
        sum(r.failed for r in results),
        cpu_ms=(cpu_of(pids) - server_cpu) * per_answer,
        postgres_cpu_ms=(cpu_of(postgres_pids()) - postgres_cpu) * per_answer,
    )


# ---------------------------------------------------------------- the two apps


@contextmanager
def floor(tmp: Path, backlog: int) -> Iterator[tuple[int, str, int]]:
    """The floor app on a fresh SQLite file: (port, the id of one of its rows, its pid)."""
    url = f"sqlite:///{tmp / 'floor.db'}"
    ids = floor_app.seed(url, backlog + 20)
    port = free_port()
    command = [sys.executable, str(BENCH / "floor_app.py"), str(port), url]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCH), os.environ.get("PYTHONPATH", "")])}
    with running(command, env, tmp / "floor.log", port, what="floor app") as process:
        yield port, ids[-1], process.pid


@contextmanager
def service(
    tmp: Path, database_url: str, jwt_secret: str, secret_key: str, processes: int = 1
) -> Iterator[list[int]]:
    """``processes`` × ``pixelmotion serve --no-worker`` on ``database_url``: their ports
    (their pids in ``PIDS``, by port)."""
    with ExitStack() as stack:
        ports = []
        for n in range(processes):
            data_dir = tmp / f"service-{n}"
            data_dir.mkdir()
            port = free_port()
            env = server_env(data_dir, port, database_url, jwt_secret, secret_key=secret_key, **LIFTED)
            PIDS[port] = stack.enter_context(serve(env, data_dir / "serve.log", worker=False)).pid
            ports.append(port)
        yield ports


def backlog_rows(count: int, now: datetime) -> list[dict[str, Any]]:
    """Other users' jobs waiting in line: pending, not yet sent, an hour old."""
    spec = build_spec(
        prompt=str(REQUEST["prompt"]),
        width=64,
        height=64,
        color_count=16,
        fps=12,
        template=DEFAULT_PROMPT_TEMPLATE,
    )
    created = now - timedelta(hours=1)
    return [
        new_job_row(
            spec,
            job_id=str(uuid.uuid4()),
            user_id=f"backlog-user-{n % 500}",
            provider="emulator",
            now=created + timedelta(microseconds=n),
        )
        for n in range(count)
    ]


def queued_row(now: datetime) -> dict[str, Any]:
    """A job as the worker leaves it after submitting: queued, with a generation id."""
    row = backlog_rows(1, now)[0]
    row.update(
        user_id="callback-user",
        created_at=now,
        status=JobStatus.QUEUED.value,
        progress=PROGRESS[JobStatus.QUEUED],
        progress_message=MESSAGES[JobStatus.QUEUED],
        luma_generation_id=str(uuid.uuid4()),
        submitted_at=now,
        next_run_at=now + timedelta(hours=1),
    )
    return row


def generation_body(generation_id: str, url: str) -> str:
    """A ``dreaming`` Generation object as Luma POSTs it to the callback URL."""
    created = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return json.dumps(
        {
            "id": generation_id,
            "generation_type": "video",
            "state": "dreaming",
            "failure_reason": None,
            "created_at": created,
            "assets": {"video": None, "image": None, "progress_video": None},
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
    )


def user_tokens(jwt_secret: str, prefix: str, count: int) -> tuple[str, ...]:
    return tuple(issue_token(jwt_secret, f"{prefix}-{n}", audience=AUDIENCE) for n in range(count))


# ---------------------------------------------------------------- SQLite: floor against service


def routes(
    floor_port: int, floor_id: str, port: int, database_url: str, jwt_secret: str, secret_key: str
) -> list[tuple[str, Target, Target]]:
    """(route, the floor's target, the service's target), seeding what each needs."""
    token = issue_token(jwt_secret, "bench-user", audience=AUDIENCE)
    with httpx.Client(
        base_url=f"http://{HOST}:{port}", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        mine = [client.post("/v1/jobs", json=REQUEST).json()["jobId"] for _ in range(20)]
        assert client.get(f"/v1/jobs/{mine[-1]}").status_code == 200
    queued = queued_row(datetime.now(UTC))
    insert_jobs(database_url, [queued])
    job_id, generation_id = queued["id"], queued["luma_generation_id"]
    url = callback_url(f"http://{HOST}:{port}", secret_key, job_id)
    callback_path = f"{CALLBACK_PATH.format(job_id=job_id)}?token={callback_token(secret_key, job_id)}"
    callback = generation_body(generation_id, url)
    body = json.dumps(REQUEST)
    submitters = user_tokens(jwt_secret, "bench-submitter", USERS)
    return [
        (
            "GET /v1/jobs/{id}",
            Target(floor_port, "GET", f"/v1/jobs/{floor_id}"),
            Target(port, "GET", f"/v1/jobs/{mine[-1]}", (token,)),
        ),
        ("GET /v1/jobs", Target(floor_port, "GET", "/v1/jobs"), Target(port, "GET", "/v1/jobs", (token,))),
        (
            "POST callback",
            Target(floor_port, "POST", f"/v1/callbacks/luma/{floor_id}", body=callback),
            Target(port, "POST", callback_path, body=callback),
        ),
        (
            "POST /v1/jobs",
            Target(floor_port, "POST", "/v1/jobs", body=body),
            Target(port, "POST", "/v1/jobs", submitters, body),
        ),
    ]


@dataclass
class Row:
    phase: str
    route: str
    floor: WrkResult
    ours: WrkResult

    @property
    def share(self) -> float:
        return self.ours.rate / self.floor.rate if self.floor.rate else 0.0


def median_result(results: list[WrkResult]) -> WrkResult:
    return WrkResult(
        statistics.median(r.rate for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.failed for r in results),
        statistics.median(r.cpu_ms for r in results),
        statistics.median(r.postgres_cpu_ms for r in results),
    )


def measure_phase(args: argparse.Namespace, phase: str, backlog: int) -> list[Row]:
    jwt_secret, secret_key = secrets.token_hex(32), secrets.token_hex(16)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pm-bench-wrk-") as name:
        tmp = Path(name)
        database_url = f"sqlite:///{tmp / 'pixelmotion.db'}"
        with (
            floor(tmp, backlog) as (floor_port, floor_id, floor_pid),
            service(tmp, database_url, jwt_secret, secret_key) as ports,
        ):
            if backlog:
                insert_jobs(database_url, backlog_rows(backlog, datetime.now(UTC)))
            for route, floor_target, our_target in routes(
                floor_port, floor_id, ports[0], database_url, jwt_secret, secret_key
            ):
                if args.only and not any(word in route for word in args.only):
                    continue
                floors, ours = [], []
                for _ in range(args.rounds):
                    floors.append(run_wrk(floor_target, args.connections, args.seconds, floor_pid))
                    slug = re.sub(r"[^a-z]+", "-", f"{phase} {route}".lower()).strip("-")
                    profile = profile_to(args, slug)
                    ours.append(run_wrk(our_target, args.connections, args.seconds, PIDS[ports[0]], profile))
                row = Row(phase, route, median_result(floors), median_result(ours))
                print(
                    f"  {phase:<8} {route:<18} floor {row.floor.rate:7.0f}/s  ours {row.ours.rate:7.0f}/s "
                    f"({row.share:.0%})",
                    flush=True,
                )
                rows.append(row)
    return rows


def print_rows(rows: list[Row]) -> None:
    print()
    print(
        f"{'phase':<9}{'route':<19}{'floor/s':>8}{'p50':>7}{'p99':>7}{'ours/s':>8}{'p50':>7}{'p99':>7}"
        f"{'share':>7}{'p99 x':>7}{'cpu ms':>8}{'cpu x':>7}{'failed':>8}"
    )
    for row in rows:
        f, o = row.floor, row.ours
        print(
            f"{row.phase:<9}{row.route:<19}{f.rate:>8.0f}{f.p50_ms:>7.1f}{f.p99_ms:>7.1f}"
            f"{o.rate:>8.0f}{o.p50_ms:>7.1f}{o.p99_ms:>7.1f}{row.share:>7.0%}"
            f"{o.p99_ms / f.p99_ms if f.p99_ms else 0:>7.1f}{o.cpu_ms:>8.2f}"
            f"{o.cpu_ms / f.cpu_ms if f.cpu_ms else 0:>7.1f}{f.failed + o.failed:>8}"
        )
    print(
        "(latencies in ms; share: ours/floor rate; p99 x: ours/floor p99; cpu ms: our server's CPU per"
        " answer, cpu x: ours/floor; failed: non-2xx + socket errors)"
    )


# ---------------------------------------------------------------- POST while the worker renders

RENDER_REQUEST = {"width": 256, "height": 256, "colorCount": 32, "fps": 30}


def profile_to(args: argparse.Namespace, name: str) -> Path | None:
    """Where ``--profile`` puts one run's collapsed stacks (None without it)."""
    folder: Path | None = args.profile
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.txt"


def processing_count(database_url: str) -> int:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(jobs_t).where(jobs_t.c.status == "processing")
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def measure_rendering(args: argparse.Namespace) -> None:
    """``POST /v1/jobs`` latency on ``pixelmotion serve`` (worker in process) while it renders
    ``args.rendering`` import jobs at once (a 720p 5 s clip, uploaded once, to 256×256 at 30 fps
    and 32 colours), at ``args.render_connections`` connections; the floor app at the same
    connections, without renders, as the reference. The submitted jobs dream for 10 minutes
    (the emulator), so they add no renders of their own."""
    jwt_secret, secret_key = secrets.token_hex(32), secrets.token_hex(16)
    connections = args.render_connections
    with tempfile.TemporaryDirectory(prefix="pm-bench-wrk-") as name:
        tmp = Path(name)
        clip = render_clip("a knight swinging a sword", tmp / "clip.mp4", seconds=5)
        database_url = f"sqlite:///{tmp / 'pixelmotion.db'}"
        data_dir = tmp / "service"
        data_dir.mkdir()
        port = free_port()
        settings = {**LIFTED, "WORKER_CONCURRENCY": str(args.rendering), "EMULATOR_DREAM_SECONDS": "600"}
        env = server_env(data_dir, port, database_url, jwt_secret, secret_key=secret_key, **settings)
        token = issue_token(jwt_secret, "bench-renderer", audience=AUDIENCE)
        body = json.dumps(REQUEST)
        submitters = user_tokens(jwt_secret, "bench-submitter", USERS)
        with floor(tmp, 0) as (floor_port, _, _floor_pid):
            floor_result = run_wrk(
                Target(floor_port, "POST", "/v1/jobs", body=body), connections, args.seconds
            )
        with (
            serve(env, data_dir / "serve.log", worker=True) as process,
            httpx.Client(
                base_url=f"http://{HOST}:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=60
            ) as client,
        ):
            upload = client.post(
                "/v1/uploads", content=clip.read_bytes(), headers={"Content-Type": "video/mp4"}
            )
            upload_id = upload.json()["uploadId"]
            for _ in range(args.rendering):
                answer = client.post(
                    "/v1/jobs", json={**RENDER_REQUEST, "source": {"type": "upload", "uploadId": upload_id}}
                )
                assert answer.status_code == 202, answer.text
            deadline = time.monotonic() + 60
            while processing_count(database_url) < args.rendering:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the renders did not start; see {data_dir / 'serve.log'}")
                time.sleep(0.1)
            at_start = processing_count(database_url)
            target = Target(port, "POST", "/v1/jobs", submitters, body)
            ours = run_wrk(target, connections, args.seconds, process.pid, profile_to(args, "rendering"))
            at_end = processing_count(database_url)
        print(
            f"POST /v1/jobs at {connections} connections while rendering: jobs processing "
            f"{at_start} at the start, {at_end} at the end"
        )
        print(f"{'':<26}{'rate/s':>8}{'p50':>8}{'p99':>8}{'failed':>8}")
        for label, result in (("floor, no renders", floor_result), ("ours, rendering", ours)):
            print(
                f"{label:<26}{result.rate:>8.0f}{result.p50_ms:>8.1f}{result.p99_ms:>8.1f}{result.failed:>8}"
            )
        print("(latencies in ms; bar: our p99 under 100 ms)")


# ---------------------------------------------------------------- PostgreSQL: processes, lock waits


class ActivitySampler(threading.Thread):
    """Samples the service's active statements in pg_stat_activity every ``interval`` s."""

    def __init__(self, url: str, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url.split("?")[0], isolation_level="AUTOCOMMIT")
        self.interval = interval
        self.stopping = threading.Event()
        self.samples = 0
        self.active = 0  # active statements seen, over all samples
        self.waiting = 0  # of which waiting on a lock
        self.samples_with_waiter = 0
        self.waits: Counter[str] = Counter()  # lock waits by wait_event (advisory, transactionid, …)

    def run(self) -> None:
        query = sa.text(
            "SELECT wait_event_type = 'Lock', wait_event FROM pg_stat_activity "
            "WHERE application_name = :name AND state = 'active'"
        )
        with self.engine.connect() as conn:
            while not self.stopping.wait(self.interval):
                rows = conn.execute(query, {"name": APP_NAME}).all()
                waiting = [str(event) for locked, event in rows if locked]
                self.samples += 1
                self.active += len(rows)
                self.waiting += len(waiting)
                self.samples_with_waiter += bool(waiting)
                self.waits.update(waiting)
        self.engine.dispose()


def measure_postgres(args: argparse.Namespace) -> None:
    if not postgres_available():
        print("PostgreSQL not reachable: --postgres skipped")
        return
    jwt_secret, secret_key = secrets.token_hex(32), secrets.token_hex(16)
    body = json.dumps(REQUEST)
    tokens = user_tokens(jwt_secret, "bench-submitter", args.users)
    sqlite_results, pg_results = [], []
    ratios: list[float] = []
    sampler = None
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pm-bench-wrk-")))
        (tmp / "sqlite").mkdir()
        (tmp / "pg").mkdir()
        sqlite_url = f"sqlite:///{tmp / 'pixelmotion.db'}"
        pg_url = stack.enter_context(postgres_schema("pm_bench_wrk")) + f"&application_name={APP_NAME}"
        sqlite_ports = stack.enter_context(service(tmp / "sqlite", sqlite_url, jwt_secret, secret_key))
        pg_ports = stack.enter_context(service(tmp / "pg", pg_url, jwt_secret, secret_key, args.processes))
        for _ in range(args.rounds):
            sqlite_results.append(
                run_wrk(
                    Target(sqlite_ports[0], "POST", "/v1/jobs", tokens, body),
                    args.connections,
                    args.seconds,
                    pid=PIDS[sqlite_ports[0]],
                    profile=profile_to(args, "sqlite"),
                )
            )
            sampler = ActivitySampler(pg_url)
            sampler.start()
            # Each process its own users, as a balancer spreads distinct clients.
            targets = [
                Target(port, "POST", "/v1/jobs", user_tokens(jwt_secret, f"bench-pg-{n}", args.users), body)
                for n, port in enumerate(pg_ports)
            ]
            profile = profile_to(args, "pg")
            pg_results.append(run_wrk_at_once(targets, args.connections, args.seconds, profile))
            sampler.stopping.set()
            sampler.join()
            ratios.append(pg_results[-1].rate / sqlite_results[-1].rate if sqlite_results[-1].rate else 0.0)
            print(
                f"  round {len(ratios)}: SQLite {sqlite_results[-1].rate:.0f}/s, PostgreSQL "
                f"{pg_results[-1].rate:.0f}/s: {ratios[-1]:.2f} ×",
                flush=True,
            )
    one, many = median_result(sqlite_results), median_result(pg_results)
    print()
    print(f"POST /v1/jobs, {args.connections} connections, {args.seconds:g} s, median of {args.rounds}")
    print(
        f"  SQLite, 1 process:       {one.rate:7.0f}/s  p50 {one.p50_ms:6.1f}  p99 {one.p99_ms:6.1f} ms"
        f"  failed {one.failed}  CPU per answer: server {one.cpu_ms:.2f} ms"
    )
    print(
        f"  PostgreSQL, {args.processes} processes: {many.rate:7.0f}/s  p50 {many.p50_ms:6.1f}"
        f"  p99 {many.p99_ms:6.1f} ms"
        f"  failed {many.failed}  ({many.rate / one.rate if one.rate else 0:.2f} × SQLite)"
        f"  CPU per answer: servers {many.cpu_ms:.2f} ms, PostgreSQL {many.postgres_cpu_ms:.2f} ms"
    )
    # Each PostgreSQL round against the SQLite round just before it: on a shared machine whose
    # speed drifts from minute to minute, the pairs' ratios move less than the two medians'.
    print(
        f"  PostgreSQL / SQLite, round by round: {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"median {statistics.median(ratios):.2f}"
    )
    if sampler is not None and sampler.samples:
        share = sampler.waiting / sampler.active if sampler.active else 0.0
        print(
            f"  pg_stat_activity (last round, every 50 ms, {sampler.samples} samples): "
            f"{sampler.waiting} of {sampler.active} active statements waiting on a lock ({share:.1%}); "
            f"samples with a waiter: {sampler.samples_with_waiter / sampler.samples:.1%}; "
            f"lock waits by kind: {dict(sampler.waits)}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1, help="floor/service alternations per route")
    parser.add_argument(
        "--backlog", type=int, default=10_000, help="jobs waiting in line in the second phase"
    )
    parser.add_argument("--only", nargs="*", help="routes whose name contains one of these words")
    parser.add_argument("--phase", choices=["idle", "backlog", "both"], default="both")
    parser.add_argument("--postgres", action="store_true", help="processes on PostgreSQL against SQLite")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--users",
        type=int,
        default=USERS,
        help="--postgres: users the submissions rotate over (each process its own)",
    )
    parser.add_argument(
        "--rendering",
        type=int,
        default=0,
        help="POST only, while the in-process worker renders this many jobs",
    )
    parser.add_argument("--render-connections", type=int, default=16)
    parser.add_argument(
        "--profile", type=Path, help="py-spy the service during each route's run: collapsed stacks here"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found (Debian package wrk)")
        return 1
    print(f"pixelmotion request path (wrk) on {machine()}; {load()}")
    if args.postgres:
        measure_postgres(args)
        print(load())
        return 0
    if args.rendering:
        measure_rendering(args)
        print(load())
        return 0
    rows: list[Row] = []
    if args.phase in ("idle", "both"):
        rows += measure_phase(args, "idle", 0)
    if args.phase in ("backlog", "both"):
        rows += measure_phase(args, f"{args.backlog // 1000}k line", args.backlog)
    print_rows(rows)
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
