"""Fault bench: many jobs through the emulator with every fault injected, two worker processes,
one of them killed with SIGKILL midway and started again. Nothing may be lost, and no job may
cost more than one paid generation.

Run: .venv/bin/python bench/faults.py [--jobs 200] [--database-url postgresql://…] [--seed 1]

Processes, as in the scaled-out deployment: ``pixelmotion serve --no-worker`` (the API and the
embedded emulator) and two ``pixelmotion worker``, on one database (a SQLite file by default).
Each job's prompt carries fault directives (``[[fault:NAME]]``, see
``providers/emulator/faults.py``): every kind is injected, the first jobs cycling through the
kinds, the rest drawn at random (none, one or two per job). Create faults strike once per
job (``*1``), as a passing outage would. The table it prints:

- faults injected, by kind (the emulator's ``_stats.faults``);
- jobs completed, failed by code, lost (not finished when the bench gives up: must be 0);
- paid generations per job: generations billed minus those that failed (Luma refunds them),
  over the jobs whose clip was not refused by the model: must be 1.00 (and every job's own
  count is checked: 1 for each, 0 for a job whose generation failed);
- processing runs per completed job ("Downloading clip..." events);
- p50 / p95 seconds from creation to a terminal state.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from _common import free_port, list_generations
from pixelmotion.jobs.states import PROCESSING_STEPS
from pixelmotion.store import Store, create_engine

ROOT = Path(__file__).resolve().parent.parent
PIXELMOTION = [sys.executable, "-m", "pixelmotion.cli"]
CLIP_CACHE = ROOT / ".cache" / "emulator-clips"
PROMPT = "a red fox running through snow"
REQUEST = {"width": 24, "height": 24, "colorCount": 6, "fps": 12, "resolution": "540p"}
DOWNLOADING = PROCESSING_STEPS["download"][1]
TERMINAL = {"completed", "failed", "canceled"}

# Every fault of the issue, as the directive the job's prompt carries.
FAULTS: dict[str, str] = {
    "fail_generation (refunded)": "[[fault:fail_generation*1=Job failed]]",
    "fail_generation (moderation)": "[[fault:fail_generation=Frame moderation failed]]",
    "drop_callbacks": "[[fault:drop_callbacks]]",
    "duplicate_callbacks": "[[fault:duplicate_callbacks]]",
    "reorder_callbacks": "[[fault:reorder_callbacks]]",
    "delay_callbacks": "[[fault:delay_callbacks]]",
    "create_429": "[[fault:create_429*1]]",
    "create_500": "[[fault:create_500*1]]",
    "create_timeout": "[[fault:create_timeout*1]]",
    "slow_asset": "[[fault:slow_asset]]",
    "cut_asset": "[[fault:cut_asset]]",
    "truncated_asset": "[[fault:truncated_asset]]",
    "corrupt_asset": "[[fault:corrupt_asset]]",
    "wrong_content_type": "[[fault:wrong_content_type]]",
    "huge_asset": "[[fault:huge_asset]]",
}
# Faults that change the clip we get, at most one of them per job.
ASSET_FAULTS = {
    "slow_asset",
    "cut_asset",
    "truncated_asset",
    "corrupt_asset",
    "wrong_content_type",
    "huge_asset",
}


EMULATOR_KEY = secrets.token_urlsafe(32)  # the emulator's key for this run


def settings_env(data_dir: Path, port: int, database_url: str | None, jobs: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELMOTION_")}
    values = {
        "DATA_DIR": str(data_dir),
        "PORT": str(port),
        "EMULATOR_DREAM_SECONDS": "0.5",
        "EMULATOR_CLIP_DIR": str(CLIP_CACHE),
        "CALLBACK_GRACE_SECONDS": "2",
        "PROVIDER_TIMEOUT_SECONDS": "2",
        "LEASE_SECONDS": "3",
        "MAX_VIDEO_BYTES": str(5 * 1024 * 1024),
        "WORKER_CONCURRENCY": "4",
        # The faults ride on [[fault:...]] prompt directives, honoured only with this on.
        "EMULATOR_PROMPT_FAULTS": "1",
        "EMULATOR_API_KEY": EMULATOR_KEY,
        # One user submits every job at once: lift the per-user limits.
        "USER_MAX_ACTIVE_JOBS": str(jobs + 10),
        "USER_JOBS_PER_HOUR": str(jobs + 10),
    }
    if database_url:
        values["DATABASE_URL"] = database_url
    env.update({f"PIXELMOTION_{k}": v for k, v in values.items()})
    return env


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as handle:
        child = subprocess.Popen([*PIXELMOTION, *args], env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.2)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


def plan_faults(jobs: int, rng: random.Random) -> list[list[str]]:
    """The faults of each job: every kind once first, then none, one or two at random."""
    kinds = list(FAULTS)
    plans: list[list[str]] = [[kind] for kind in kinds[:jobs]]
    while len(plans) < jobs:
        count = rng.choice((0, 1, 1, 2))
        chosen: list[str] = []
        for kind in rng.sample(kinds, k=len(kinds)):
            if len(chosen) == count:
                break
            if kind.startswith("fail_generation") and any(c.startswith("fail_generation") for c in chosen):
                continue
            if kind in ASSET_FAULTS and any(c in ASSET_FAULTS for c in chosen):
                continue
            chosen.append(kind)
        plans.append(chosen)
    rng.shuffle(plans)
    return plans


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary dir")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds before unfinished jobs count as lost"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="pixelmotion-faults-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        env = settings_env(data_dir, port, args.database_url, args.jobs)
        url = f"http://127.0.0.1:{port}"
        logs = data_dir / "logs"
        logs.mkdir()
        subprocess.run([*PIXELMOTION, "migrate"], env=env, check=True, capture_output=True)
        token = subprocess.run(
            [*PIXELMOTION, "token", "--user", "bench"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        database_url = args.database_url or f"sqlite:///{data_dir / 'pixelmotion.db'}"
        engine = create_engine(database_url)
        repository = Store(engine)
        emulator = f"{url}/emulator/luma/dream-machine/v1"
        emulator_headers = {"Authorization": f"Bearer {EMULATOR_KEY}"}

        with contextlib.ExitStack() as stack:
            stack.enter_context(process(["serve", "--no-worker"], env, logs / "api.log"))
            wait_until(lambda: healthy(url), 60, "the API")
            first = stack.enter_context(process(["worker"], env, logs / "worker-1.log"))
            stack.enter_context(process(["worker"], env, logs / "worker-2.log"))

            plans = plan_faults(args.jobs, rng)
            began = time.monotonic()
            job_faults: dict[str, list[str]] = {}
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                for faults in plans:
                    directives = " ".join(FAULTS[kind] for kind in faults)
                    tag = f"[[fault:tag_{uuid.uuid4().hex[:10]}]]"
                    body = {**REQUEST, "prompt": f"{PROMPT} {directives} {tag}"}
                    response = client.post("/v1/jobs", json=body)
                    response.raise_for_status()
                    job_faults[response.json()["jobId"]] = faults
            job_ids = list(job_faults)
            print(f"{len(job_ids)} jobs created in {time.monotonic() - began:.1f} s", file=sys.stderr)

            def finished() -> int:
                return sum(
                    1 for j in job_ids if (job := repository.jobs.get(j)) and job.status.value in TERMINAL
                )

            # Midway, kill one worker without warning (its leases must expire), then restart it.
            wait_until(lambda: finished() >= len(job_ids) * 0.4, args.timeout, "40% of the jobs")
            in_hand = sum(1 for j in job_ids if (job := repository.jobs.get(j)) and job.lease_owner)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            killed_at = finished()
            print(
                f"SIGKILL worker 1 at {killed_at}/{len(job_ids)} finished ({in_hand} jobs leased)",
                file=sys.stderr,
            )
            time.sleep(1)
            stack.enter_context(process(["worker"], env, logs / "worker-1b.log"))

            deadline = time.monotonic() + args.timeout
            while finished() < len(job_ids) and time.monotonic() < deadline:
                time.sleep(0.5)
            elapsed = time.monotonic() - began

            stats = httpx.get(f"{emulator}/_stats", headers=emulator_headers).json()
            generations = list_generations(emulator, emulator_headers)

        report(repository, job_ids, job_faults, stats, generations, elapsed, killed_at)
        engine.dispose()


def report(
    repository: Store,
    job_ids: list[str],
    job_faults: dict[str, list[str]],
    stats: dict[str, Any],
    generations: list[dict[str, Any]],
    elapsed: float,
    killed_at: int,
) -> None:
    jobs = {j: repository.jobs.get(j) for j in job_ids}
    statuses = Counter(job.status.value if job else "missing" for job in jobs.values())
    failed_by_code = Counter(job.error_code for job in jobs.values() if job and job.status.value == "failed")
    lost = sum(1 for job in jobs.values() if job is None or job.status.value not in TERMINAL)

    # Money: generations billed minus the refunded (failed) ones, per job and overall.
    per_job: Counter[str] = Counter()
    failed_generations = 0
    for generation in generations:
        callback = str((generation.get("request") or {}).get("callback_url") or "")
        job_id = (
            callback.split("/callbacks/luma/")[-1].split("?")[0] if "/callbacks/luma/" in callback else ""
        )
        if generation["state"] == "failed":
            failed_generations += 1
        elif job_id:
            per_job[job_id] += 1
    refused = {j for j, job in jobs.items() if job and job.error_code == "LUMA_GENERATION_FAILED"}
    paid = stats["created"] - failed_generations
    payable = len(job_ids) - len(refused)
    wrong = [j for j in job_ids if per_job[j] != (0 if j in refused else 1)]

    runs = [
        sum(1 for e in repository.events.after(job_id=j) if e.message == DOWNLOADING)
        for j, job in jobs.items()
        if job and job.status.value == "completed"
    ]
    durations = sorted(
        (job.updated_at - job.created_at).total_seconds()
        for job in jobs.values()
        if job and job.status.value in TERMINAL
    )

    def pct(share: float) -> float:
        return durations[min(len(durations) - 1, int(share * len(durations)))] if durations else 0.0

    injected = Counter(kind for faults in job_faults.values() for kind in faults)
    rows: list[tuple[str, str]] = [("jobs", str(len(job_ids)))]
    rows += [
        (f"fault injected: {name}", str(count)) for name, count in sorted(stats.get("faults", {}).items())
    ]
    rows.append(("jobs with no fault", str(sum(1 for f in job_faults.values() if not f))))
    rows.append(("completed", str(statuses.get("completed", 0))))
    rows += [(f"failed: {code}", str(count)) for code, count in sorted(failed_by_code.items())]
    rows.append(("lost (must be 0)", str(lost)))
    rows.append(("generations billed (created)", str(stats["created"])))
    rows.append(("generations failed (refunded)", str(failed_generations)))
    rows.append(("generations deleted", str(stats.get("deleted", 0))))
    rows.append(
        (
            "paid generations per job (must be 1.00)",
            f"{paid / payable:.2f} ({paid}/{payable}; jobs off by any: {len(wrong)})" if payable else "n/a",
        )
    )
    if runs:
        rows.append(("processing runs per completed job", f"{statistics.mean(runs):.2f} (max {max(runs)})"))
    rows.append(("p50 / p95 time to terminal", f"{pct(0.50):.1f} s / {pct(0.95):.1f} s"))
    rows.append(("worker SIGKILLed after", f"{killed_at} jobs finished"))
    rows.append(("wall time", f"{elapsed:.0f} s"))
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    for job_id in wrong:
        job = jobs[job_id]
        states = [
            g["state"] for g in generations if f"/callbacks/luma/{job_id}" in str(g.get("request") or {})
        ]
        print(
            f"job {job_id}: faults {job_faults[job_id]}, {job.status.value if job else '?'}, "
            f"generations {states}",
            file=sys.stderr,
        )
    missing_kinds = [kind for kind in FAULTS if not injected.get(kind)]
    if missing_kinds:
        print(f"not injected (too few jobs): {', '.join(missing_kinds)}", file=sys.stderr)
    if lost or wrong or (payable and paid != payable):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
