"""API latency benchmark: ``POST /v1/jobs`` while other jobs are being processed (issue 2).

Run: .venv/bin/python bench/api_latency.py [--posts 200] [--background 10] [--quick]

Starts ``pixelmotion serve`` as a user runs it (API + worker + embedded Luma emulator, SQLite and
a local directory in a temporary data dir; ``--database-url`` for PostgreSQL), submits
``--background`` jobs and waits until the first of them is being processed, then sends
``--posts`` ``POST /v1/jobs`` requests spaced ``--interval-ms`` apart (plus jitter) over one
keep-alive connection and times each one at the client (request written to response read).
The measured requests' jobs join the queue too, so the worker, the emulator's renderer and the
pixel-art process pool stay busy the whole time. Afterwards the job events written during the
window show how much work ran alongside. Target: 202 in under 50 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

from pixelmotion.security import issue_token
from pixelmotion.store import JobRepository, create_engine

HOST = "127.0.0.1"
TARGET_MS = 50.0
REQUEST = {"prompt": "a knight swinging a sword", "width": 64, "height": 64, "colorCount": 16, "fps": 12}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, Python {platform.python_version()}"


def load() -> str:
    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=200, help="measured POST /v1/jobs requests")
    parser.add_argument("--warmup", type=int, default=5, help="requests sent first, not counted")
    parser.add_argument("--background", type=int, default=10, help="jobs submitted before measuring")
    parser.add_argument("--interval-ms", type=float, default=50.0, help="pause between requests (+0–50%%)")
    parser.add_argument("--dream-seconds", type=float, default=2.0, help="the emulator's dreaming time")
    parser.add_argument("--database-url", default="", help="default: SQLite in the temporary data dir")
    parser.add_argument("--quick", action="store_true", help="50 requests, 4 background jobs")
    args = parser.parse_args()
    if args.quick:
        args.posts, args.background = min(args.posts, 50), min(args.background, 4)

    print(f"pixelmotion API latency benchmark on {machine()}; {load()}")
    port = free_port()
    jwt_secret = secrets.token_hex(32)
    with tempfile.TemporaryDirectory(prefix="pm-bench-api-") as tmp:
        data_dir = Path(tmp)
        database_url = args.database_url or f"sqlite:///{data_dir / 'pixelmotion.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELMOTION_")}
        env.update(
            PIXELMOTION_DATA_DIR=str(data_dir),
            PIXELMOTION_PORT=str(port),
            PIXELMOTION_DATABASE_URL=database_url,
            PIXELMOTION_JWT_SECRET=jwt_secret,
            PIXELMOTION_EMULATOR_DREAM_SECONDS=str(args.dream_seconds),
            # One benchmark user starts hundreds of jobs: lift the per-user limits.
            PIXELMOTION_USER_MAX_ACTIVE_JOBS="100000",
            PIXELMOTION_USER_JOBS_PER_HOUR="100000",
        )
        log = data_dir / "serve.log"
        with open(log, "wb") as handle:
            server = subprocess.Popen(
                [sys.executable, "-m", "pixelmotion.cli", "serve"],
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        try:
            return run(args, port, jwt_secret, database_url, server, log)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def run(
    args: argparse.Namespace,
    port: int,
    jwt_secret: str,
    database_url: str,
    server: subprocess.Popen[bytes],
    log: Path,
) -> int:
    base = f"http://{HOST}:{port}"
    token = issue_token(jwt_secret, "bench-user", audience="authenticated")
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            sys.stderr.write(log.read_text()[-4000:])
            raise RuntimeError("pixelmotion serve exited")
        try:
            if client.get("/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("pixelmotion serve did not become healthy")
        time.sleep(0.1)

    background = [client.post("/v1/jobs", json=REQUEST).json()["jobId"] for _ in range(args.background)]
    print(f"{len(background)} background jobs submitted; waiting until one is being processed…", flush=True)
    waited = time.monotonic()
    states: Counter[str] = Counter()
    while background and time.monotonic() - waited < 120:
        states = Counter(client.get(f"/v1/jobs/{job_id}").json()["status"] for job_id in background)
        if states["processing"] or states["completed"]:
            break
        time.sleep(0.2)
    print(f"  after {time.monotonic() - waited:.1f} s: {dict(states)}", flush=True)

    engine = create_engine(database_url)
    repository = JobRepository(engine)
    first_event = repository.last_event_id()
    rng = random.Random(11)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    window_start = datetime.now(UTC)
    for n in range(args.warmup + args.posts):
        time.sleep((args.interval_ms + rng.uniform(0, args.interval_ms / 2)) / 1000)
        started = time.perf_counter()
        response = client.post("/v1/jobs", json=REQUEST)
        elapsed = (time.perf_counter() - started) * 1000
        if n >= args.warmup:
            latencies.append(elapsed)
            statuses[response.status_code] += 1
    window_end = datetime.now(UTC)
    client.close()

    # What ran alongside: events the worker wrote during the window, by state.
    work = Counter()
    processing_jobs: set[str] = set()
    after = first_event
    while True:
        batch = repository.events_after(after_id=after, limit=1000)
        if not batch:
            break
        after = batch[-1].id
        for event in batch:
            at = event.created_at if event.created_at.tzinfo else event.created_at.replace(tzinfo=UTC)
            if window_start <= at <= window_end and event.status.value != "pending":
                work[event.status.value] += 1
                if event.status.value == "processing":
                    processing_jobs.add(event.job_id)
    engine.dispose()

    seconds = (window_end - window_start).total_seconds()
    p95, p99 = percentile(latencies, 95), percentile(latencies, 99)
    print()
    print(
        f"POST /v1/jobs latency while jobs are processed (ms), {len(latencies)} requests over {seconds:.1f} s"
    )
    print(f"{'n':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  statuses")
    print(
        f"{len(latencies):>5} {percentile(latencies, 50):>7.1f} {p95:>7.1f} {p99:>7.1f} "
        f"{max(latencies):>7.1f}  {dict(statuses)}"
    )
    print(
        f"alongside, in the same window: {sum(work.values())} job changes by the worker "
        f"({', '.join(f'{k} {v}' for k, v in sorted(work.items()))}); "
        f"{len(processing_jobs)} jobs in the processing state"
    )
    met = p99 < TARGET_MS and statuses == Counter({202: len(latencies)})
    print(f"target: every request 202, p99 < {TARGET_MS:g} ms: {'met' if met else 'NOT met'}; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
