"""Job events benchmark: commit-to-SSE-client latency, and concurrent streams on one API process.

Run: .venv/bin/python bench/events.py [--samples 300] [--streams 5000] [--quick]

Latency (each scenario: one job, one SSE client on ``GET /v1/jobs/{id}/events`` in a separate
process reading a raw socket; the committer calls ``Store.report_progress`` every
``--interval-ms`` plus jitter, records ``time.time_ns()`` right after the commit returns, and the
client records ``time.time_ns()`` when it has parsed the event; same machine clock):

- one process, SQLite / PostgreSQL: the API served by uvicorn in a thread of this process, the
  commits made by this process's repository from another thread (as the embedded worker does);
- across processes, PostgreSQL: ``pixelmotion serve --no-worker`` in a subprocess, the commits
  made by this process with its own engine on the same schema (LISTEN/NOTIFY fan-out);
- across processes, SQLite: the same on one SQLite file (the 250 ms table scan).

Concurrent streams: ``pixelmotion serve --no-worker`` (one uvicorn process, PostgreSQL) and
``--streams`` raw asyncio SSE connections from this process, each on its own job; then one
event committed per job; every stream must receive its event. Reports errors, time to open all
streams, the fan-out delivery times, the server's RSS and open descriptors.

Needs the PostgreSQL at 127.0.0.1:5432 (database ``test``; ``make bench-events`` starts one) or
``PIXELMOTION_BENCH_POSTGRES_URL``. Each run uses a fresh schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import resource
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    AUDIENCE,
    HOST,
    POSTGRES_URL,
    free_port,
    load,
    machine,
    percentile,
    postgres_available,
    postgres_schema,
    process_cpu_seconds,
    serve,
    server_env,
    wait_healthy,
)
from pixelmotion.jobs.models import JobSpec
from pixelmotion.jobs.states import JobStatus
from pixelmotion.security import issue_token
from pixelmotion.store import Store, create_engine

USER = "bench-user"
SPEC = JobSpec(prompt="a benchmark knight", width=32, height=32, color_count=8, fps=12)
SUPABASE_FREE_TIER_CONNECTIONS = 200
TARGET_P95_MS = {"one process": 15.0, "across processes": 30.0}


# ---------------------------------------------------------------- small helpers


def raise_open_files(needed: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards ``needed`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# ---------------------------------------------------------------- a raw SSE client


class StreamEnded(Exception):
    pass


class SseClient:
    """One Server-Sent Events connection on a raw asyncio socket (HTTP/1.1, chunked)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunked: bool) -> None:
        self.reader = reader
        self.writer = writer
        self.chunked = chunked
        self.buffer = b""

    @classmethod
    async def open(cls, port: int, path: str, token: str) -> SseClient:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            writer.close()
            raise StreamEnded(f"HTTP {status}")
        return cls(reader, writer, b"transfer-encoding: chunked" in head.lower())

    async def _more(self) -> None:
        if self.chunked:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                raise StreamEnded("end of stream")
            self.buffer += (await self.reader.readexactly(size + 2))[:-2]
        else:
            data = await self.reader.read(65536)
            if not data:
                raise StreamEnded("end of stream")
            self.buffer += data

    async def next_event(self) -> tuple[int, dict[str, Any], int]:
        """(event id, data, time.time_ns() when parsed); keep-alive comments are skipped."""
        while True:
            end = self.buffer.find(b"\n\n")
            if end < 0:
                await self._more()
                continue
            block, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            event_id, data = 0, None
            for line in block.split(b"\n"):
                if line.startswith(b"id:"):
                    event_id = int(line[3:].strip())
                elif line.startswith(b"data:"):
                    data = line[5:].strip()
            if data is not None:
                parsed = json.loads(data)
                return event_id, parsed, time.time_ns()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


def latency_client(port: int, path: str, token: str, expected: int, queue: Any) -> None:
    """Child process: read ``expected`` events after the snapshot; report (message, ns)."""

    async def main() -> None:
        client = await SseClient.open(port, path, token)
        await client.next_event()  # the snapshot
        queue.put(("ready", None))
        received: list[tuple[str, int]] = []
        try:
            while len(received) < expected:
                _, data, at = await asyncio.wait_for(client.next_event(), 60)
                received.append((str(data.get("progressMessage")), at))
        finally:
            client.close()
            queue.put(("done", received))

    try:
        asyncio.run(main())
    except Exception as error:
        queue.put(("error", f"{type(error).__name__}: {error}"))


# ---------------------------------------------------------------- servers


@dataclass
class Api:
    port: int
    token: str
    database_url: str
    pid: int
    repository: Store
    cleanup: list[Callable[[], None]] = field(default_factory=list)


@contextmanager
def subprocess_api(database_url: str, open_files: int) -> Iterator[Api]:
    """``pixelmotion serve --no-worker`` in its own process; this process commits on its own engine."""
    port = free_port()
    jwt_secret = secrets.token_hex(32)
    with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
        data_dir = Path(tmp)
        env = server_env(data_dir, port, database_url, jwt_secret)
        log = data_dir / "serve.log"

        def raise_limit() -> None:  # in the child, before exec
            _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            limit = open_files if hard == resource.RLIM_INFINITY else min(open_files, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))

        with serve(env, log, worker=False, preexec_fn=raise_limit) as process:
            engine = create_engine(database_url)  # migrations were applied by the server
            try:
                yield Api(
                    port=port,
                    token=issue_token(jwt_secret, USER, audience=AUDIENCE),
                    database_url=database_url,
                    pid=process.pid,
                    repository=Store(engine),
                )
            except Exception:
                sys.stderr.write(log.read_text()[-4000:])
                raise
            finally:
                engine.dispose()


@contextmanager
def in_process_api(database_url: str) -> Iterator[Api]:
    """The API served by uvicorn in a thread of this process; commits share its repository."""
    import uvicorn

    from pixelmotion.api.app import create_app
    from pixelmotion.bootstrap import bootstrap
    from pixelmotion.config import load_settings

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
        settings = load_settings(
            {
                "PIXELMOTION_DATA_DIR": tmp,
                "PIXELMOTION_PORT": str(port),
                "PIXELMOTION_DATABASE_URL": database_url,
                "PIXELMOTION_PROVIDER": "emulator",
            }
        )
        services = bootstrap(settings, embed_emulator=False)
        config = uvicorn.Config(
            create_app(services, run_worker=False),
            host=HOST,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
        thread.start()
        try:
            wait_healthy(port, thread.is_alive, "uvicorn")
            yield Api(
                port=port,
                token=issue_token(settings.jwt_secret, USER, audience=settings.jwt_audience),
                database_url=database_url,
                pid=os.getpid(),
                repository=services.repository,
            )
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            services.close()


# ---------------------------------------------------------------- latency


@dataclass
class LatencyResult:
    name: str
    kind: str
    latencies_ms: list[float]
    missing: int
    note: str = ""


def measure_latency(
    api: Api, name: str, kind: str, samples: int, warmup: int, interval_ms: float
) -> LatencyResult:
    repository = api.repository
    job = repository.jobs.create(SPEC, user_id=USER, provider="emulator")
    total = warmup + samples
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(
        target=latency_client, args=(api.port, f"/v1/jobs/{job.id}/events", api.token, total, queue)
    )
    child.start()
    kind_of, payload = queue.get(timeout=60)
    if kind_of != "ready":
        child.join(5)
        raise RuntimeError(f"SSE client failed: {payload}")
    committed: dict[str, int] = {}
    rng = random.Random(7)
    for n in range(total):
        time.sleep((interval_ms + rng.uniform(0, interval_ms / 2)) / 1000)
        message = f"bench {n}"
        repository.jobs.report_progress(job.id, JobStatus.PENDING, n % 100, message)
        committed[message] = time.time_ns()
    kind_of, payload = queue.get(timeout=120)
    child.join(10)
    if kind_of != "done":
        raise RuntimeError(f"SSE client failed: {payload}")
    received = dict(payload)
    latencies = [
        (received[f"bench {n}"] - committed[f"bench {n}"]) / 1e6
        for n in range(warmup, total)
        if f"bench {n}" in received
    ]
    return LatencyResult(name, kind, latencies, missing=samples - len(latencies))


# ---------------------------------------------------------------- concurrent streams


@dataclass
class StreamsResult:
    streams: int
    opened: int = 0
    received: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    open_seconds: float = 0.0
    commit_seconds: float = 0.0
    deliver_seconds: float = 0.0
    fanout_ms: list[float] = field(default_factory=list)
    rss_before_mb: float = 0.0
    rss_open_mb: float = 0.0
    rss_after_mb: float = 0.0
    fds_open: int = 0
    server_cpu_open_s: float = 0.0
    server_cpu_fanout_s: float = 0.0
    open_files_limit: int = 0


def create_jobs(repository: Store, count: int) -> list[str]:
    with ThreadPoolExecutor(4) as pool:
        jobs = list(
            pool.map(lambda _: repository.jobs.create(SPEC, user_id=USER, provider="emulator"), range(count))
        )
    return [job.id for job in jobs]


async def hold_streams(
    api: Api, job_ids: list[str], result: StreamsResult, open_concurrency: int, deliver_timeout: float
) -> None:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(open_concurrency)
    all_open = asyncio.Event()
    received_at: dict[str, int] = {}
    clients: list[SseClient] = []
    pending_open = len(job_ids)

    def error(what: str) -> None:
        result.errors[what] = result.errors.get(what, 0) + 1

    def opened_one() -> None:
        nonlocal pending_open
        pending_open -= 1
        if pending_open == 0:
            all_open.set()

    async def stream(job_id: str) -> None:
        try:
            async with gate:
                client = await asyncio.wait_for(
                    SseClient.open(api.port, f"/v1/jobs/{job_id}/events", api.token), 60
                )
                clients.append(client)
                await asyncio.wait_for(client.next_event(), 60)  # the snapshot
            result.opened += 1
        except Exception as exc:
            error(f"open: {type(exc).__name__} {exc}"[:80])
            return
        finally:
            opened_one()
        try:
            while True:
                _, data, at = await client.next_event()
                if str(data.get("progressMessage", "")).startswith("fanout"):
                    received_at[job_id] = at
                    result.received += 1
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error(f"read: {type(exc).__name__} {exc}"[:80])
        finally:
            client.close()

    cpu0 = process_cpu_seconds(api.pid)
    started = time.monotonic()
    tasks = [asyncio.create_task(stream(job_id)) for job_id in job_ids]
    await all_open.wait()
    result.open_seconds = time.monotonic() - started
    await asyncio.sleep(1.0)  # let the server settle before measuring it
    cpu1 = process_cpu_seconds(api.pid)
    result.server_cpu_open_s = cpu1 - cpu0
    result.rss_open_mb = process_rss_mb(api.pid)
    result.fds_open = open_fds(api.pid)
    print(
        f"  {result.opened} streams open in {result.open_seconds:.1f} s; server RSS "
        f"{result.rss_open_mb:.0f} MB; committing one event per job…",
        flush=True,
    )

    committed: dict[str, int] = {}

    def commit(job_id: str) -> None:
        api.repository.jobs.report_progress(job_id, JobStatus.PENDING, 1, f"fanout {job_id}")
        committed[job_id] = time.time_ns()

    def commit_all() -> float:
        start = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(commit, job_ids))
        return time.monotonic() - start

    first_commit_ns = time.time_ns()
    result.commit_seconds = await loop.run_in_executor(None, commit_all)
    live = [task for task in tasks if not task.done()]
    if live:
        _, late = await asyncio.wait(live, timeout=deliver_timeout)
        for task in late:
            task.cancel()
            error("no event within the timeout")
        await asyncio.gather(*late, return_exceptions=True)
    result.server_cpu_fanout_s = process_cpu_seconds(api.pid) - cpu1
    if received_at:
        result.deliver_seconds = (max(received_at.values()) - first_commit_ns) / 1e9
    result.fanout_ms = [(at - committed[job_id]) / 1e6 for job_id, at in received_at.items()]
    for client in clients:
        client.close()


def measure_streams(
    api: Api, streams: int, open_concurrency: int, deliver_timeout: float, open_files: int
) -> StreamsResult:
    result = StreamsResult(streams=streams, open_files_limit=open_files)
    print(f"  creating {streams} jobs…", flush=True)
    job_ids = create_jobs(api.repository, streams)
    time.sleep(2.5)  # the server's table scan (2 s on PostgreSQL) passes over the new rows
    result.rss_before_mb = process_rss_mb(api.pid)
    asyncio.run(hold_streams(api, job_ids, result, open_concurrency, deliver_timeout))
    time.sleep(0.5)
    result.rss_after_mb = process_rss_mb(api.pid)
    return result


# ---------------------------------------------------------------- report


def print_latency(results: list[LatencyResult]) -> bool:
    print()
    print("Commit → SSE client latency (ms)")
    print(f"{'scenario':<34} {'n':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'miss':>5}  target")
    ok = True
    for r in results:
        p95 = percentile(r.latencies_ms, 95)
        target = TARGET_P95_MS.get(r.kind)
        verdict = ""
        if target is not None:
            met = p95 < target and r.missing == 0
            ok &= met
            verdict = f"p95 < {target:g} ms: {'met' if met else 'NOT met'}"
        elif r.note:
            verdict = r.note
        print(
            f"{r.name:<34} {len(r.latencies_ms):>5} {percentile(r.latencies_ms, 50):>7.1f} {p95:>7.1f} "
            f"{percentile(r.latencies_ms, 99):>7.1f} {max(r.latencies_ms, default=float('nan')):>7.1f} "
            f"{r.missing:>5}  {verdict}"
        )
    return ok


def print_streams(r: StreamsResult) -> bool:
    errors = sum(r.errors.values())
    print()
    print("Concurrent streams on one API process (pixelmotion serve --no-worker, uvicorn, PostgreSQL)")
    rows = [
        ("streams asked / open / got their event", f"{r.streams} / {r.opened} / {r.received}"),
        ("errors", f"{errors}" + (f"  {r.errors}" if r.errors else "")),
        (
            "time to open all (to each snapshot)",
            f"{r.open_seconds:.1f} s ({r.opened / max(r.open_seconds, 1e-9):.0f}/s)",
        ),
        (
            "server RSS idle → all open → after",
            f"{r.rss_before_mb:.0f} → {r.rss_open_mb:.0f} → {r.rss_after_mb:.0f} MB",
        ),
        (
            "server RSS per stream",
            f"{(r.rss_open_mb - r.rss_before_mb) * 1024 / max(r.opened, 1):.0f} KB",
        ),
        ("server open descriptors (all open)", f"{r.fds_open} (RLIMIT_NOFILE {r.open_files_limit})"),
        ("server CPU: opening / fan-out", f"{r.server_cpu_open_s:.1f} s / {r.server_cpu_fanout_s:.1f} s"),
        ("commit one event per job (4 threads)", f"{r.commit_seconds:.1f} s"),
        ("first commit → last stream got its event", f"{r.deliver_seconds:.1f} s"),
        (
            "per stream commit → event p50/p95/p99",
            f"{percentile(r.fanout_ms, 50):.0f} / {percentile(r.fanout_ms, 95):.0f} / "
            f"{percentile(r.fanout_ms, 99):.0f} ms",
        ),
        ("Supabase Realtime free tier", f"{SUPABASE_FREE_TIER_CONNECTIONS} concurrent connections"),
    ]
    for label, value in rows:
        print(f"  {label:<42} {value}")
    return errors == 0 and r.received == r.streams


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=300, help="latency samples per scenario")
    parser.add_argument("--warmup", type=int, default=20, help="latency samples discarded first")
    parser.add_argument(
        "--interval-ms", type=float, default=20.0, help="pause between commits (+0–50%% jitter)"
    )
    parser.add_argument("--streams", type=int, default=5000, help="concurrent SSE streams (0 to skip)")
    parser.add_argument("--open-concurrency", type=int, default=200, help="streams being opened at once")
    parser.add_argument("--deliver-timeout", type=float, default=120.0, help="seconds to wait for fan-out")
    parser.add_argument("--quick", action="store_true", help="60 samples, 500 streams")
    parser.add_argument("--only", choices=["latency", "streams"], help="run one part only (default: both)")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.warmup, args.streams = min(args.samples, 60), 10, min(args.streams, 500)

    print(f"pixelmotion events benchmark on {machine()}; {load()}")
    postgres = postgres_available()
    if not postgres:
        print(f"PostgreSQL not reachable at {POSTGRES_URL}: PostgreSQL scenarios skipped")
    open_files = raise_open_files(args.streams + 1024)
    ok = True

    if args.only in (None, "latency"):
        results: list[LatencyResult] = []
        print(
            f"latency: {args.samples} samples (+{args.warmup} warm-up) per scenario, "
            f"~{args.interval_ms:g} ms apart"
        )
        with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'one.db'}"
            with in_process_api(url) as api:
                results.append(
                    measure_latency(
                        api, "one process, SQLite", "one process", args.samples, args.warmup, args.interval_ms
                    )
                )
        print(f"  done: {results[-1].name} ({load()})", flush=True)
        if postgres:
            with postgres_schema() as url, in_process_api(url) as api:
                results.append(
                    measure_latency(
                        api,
                        "one process, PostgreSQL",
                        "one process",
                        args.samples,
                        args.warmup,
                        args.interval_ms,
                    )
                )
            print(f"  done: {results[-1].name} ({load()})", flush=True)
            with postgres_schema() as url, subprocess_api(url, open_files) as api:
                results.append(
                    measure_latency(
                        api,
                        "across processes, PostgreSQL",
                        "across processes",
                        args.samples,
                        args.warmup,
                        args.interval_ms,
                    )
                )
            print(f"  done: {results[-1].name} ({load()})", flush=True)
        with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'shared.db'}"
            with subprocess_api(url, open_files) as api:
                shared = measure_latency(
                    api,
                    "across processes, SQLite",
                    "sqlite poll",
                    max(20, args.samples // 5),
                    min(args.warmup, 5),
                    args.interval_ms * 5,
                )
                shared.note = "(table scan every 250 ms: expected ≤ 250 ms)"
                results.append(shared)
        print(f"  done: {results[-1].name} ({load()})", flush=True)
        ok &= print_latency(results)

    if args.only in (None, "streams") and args.streams > 0:
        if not postgres:
            print("concurrent streams: skipped (needs PostgreSQL)")
        else:
            print()
            print(f"concurrent streams: {args.streams} (open-files limit {open_files})", flush=True)
            with postgres_schema() as url, subprocess_api(url, open_files) as api:
                streams = measure_streams(
                    api, args.streams, args.open_concurrency, args.deliver_timeout, open_files
                )
            ok &= print_streams(streams)

    print()
    print(f"{'all targets met' if ok else 'some targets NOT met (see above)'}; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
