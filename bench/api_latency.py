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
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx

from _common import AUDIENCE, HOST, free_port, load, machine, percentile, serve, server_env
from pixelmotion.security import issue_token
from pixelmotion.store import Store, create_engine

TARGET_MS = 50.0
REQUEST = {"prompt": "a knight swinging a sword", "width": 64, "height": 64, "colorCount": 16, "fps": 12}


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
        env = server_env(
            data_dir,
            port,
            database_url,
            jwt_secret,
            EMULATOR_DREAM_SECONDS=str(args.dream_seconds),
            # One benchmark user starts hundreds of jobs: lift the per-user limits.
            USER_MAX_ACTIVE_JOBS="100000",
            USER_JOBS_PER_HOUR="100000",
        )
        # The embedded emulator must be up too: wait for a 200, not just an answer.
        with serve(env, data_dir / "serve.log", accept=lambda status: status == 200):
            return run(args, port, jwt_secret, database_url)


def run(
    args: argparse.Namespace,
    port: int,
    jwt_secret: str,
    database_url: str,
) -> int:
    base = f"http://{HOST}:{port}"
    token = issue_token(jwt_secret, "bench-user", audience=AUDIENCE)
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
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
    repository = Store(engine)
    first_event = repository.events.last_id()
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
    work: Counter[str] = Counter()
    processing_jobs: set[str] = set()
    after = first_event
    while True:
        batch = repository.events.after(after_id=after, limit=1000)
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
