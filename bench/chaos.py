"""Chaos bench (issue 16): 200 jobs while our own infrastructure fails under them.

Run: make bench-chaos   (or .venv/bin/python bench/chaos.py [--jobs 200] [--timeout 600])

Processes, each its own: a throwaway PostgreSQL cluster (``initdb``/``pg_ctl``, see
tests/pgcluster.py; as root it runs as the ``postgres`` user), moto (S3) on loopback behind a
loopback proxy, the standalone ``pixelmotion emulator`` behind another proxy (tests/proxy.py:
SIGUSR1 takes it down, connections refused; SIGUSR2 brings it back), one
``pixelmotion serve --no-worker`` and two ``pixelmotion worker`` (provider "luma", the SDK
against the emulator; results in the bucket). Clients submit the jobs from four users (with
an ``Idempotency-Key``, again after each 503 or connection error, honouring Retry-After) and
poll each job until it ends. Meanwhile the chaos script, counting from the first submission:

- 8 s: PostgreSQL restarted (``pg_ctl restart -m fast``); 80 s: restarted again;
- 20 s: the object store stops answering for 15 s;
- 40 s: the emulator is unreachable for 30 s (its API; the clip downloads go to its own port);
- 50 s: worker 1 SIGKILLed, started again 3 s later.

It reports: jobs lost (never accepted, or not ended when the bench gives up), completed, failed
by code (with a message), completed jobs whose outputs are missing from the bucket, paid
generations per delivered animation (the emulator's ``_stats``: created minus the failed ones,
which Luma refunds, over completed jobs), API answers by status and error code, and the
longest any request waited. It exits non-zero unless the run is clean: nothing lost or
failed, 1.00 paid per animation, no 5xx but coded 503s, no request over 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _common import (
    AUDIENCE,
    HOST,
    PIXELMOTION,
    free_port,
    list_generations,
    load,
    machine,
    percentile,
    server_env,
    stop,
)
from pixelmotion.jobs.states import PROCESSING_STEPS
from pixelmotion.objects.s3 import S3ObjectStore
from pixelmotion.security import issue_token
from pixelmotion.store import Store, create_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the throwaway cluster and the proxy are the tests' own
from tests.pgcluster import Cluster, throwaway_postgres, unavailable_reason  # noqa: E402

PROXY = [sys.executable, str(ROOT / "tests" / "proxy.py")]
CLIP_CACHE = ROOT / ".cache" / "emulator-clips"
LUMA_KEY = "luma-key-for-the-chaos-bench"
USERS = ("ada", "bob", "cyd", "dee")
REQUEST = {"prompt": "a red fox running through snow", "width": 8, "height": 8, "colorCount": 2, "fps": 12}
TERMINAL = {"completed", "failed", "canceled"}
DOWNLOADING = PROCESSING_STEPS["download"][1]
ANSWER_WITHIN = 2.0
S3_REGION, S3_KEY = "us-east-1", "chaos"
SETTINGS = {
    "PROVIDER": "luma",
    "LUMA_API_KEY": LUMA_KEY,
    "PROVIDER_MAX_IN_FLIGHT": "10",
    "PROVIDER_CREATES_PER_MINUTE": "off",
    "LEASE_SECONDS": "6",
    "CALLBACK_GRACE_SECONDS": "5",
    "PROVIDER_TIMEOUT_SECONDS": "5",
    "WORKER_CONCURRENCY": "6",
    "S3_REGION": S3_REGION,
    "S3_ACCESS_KEY_ID": S3_KEY,
    "S3_SECRET_ACCESS_KEY": S3_KEY,
}


# ---------------------------------------------------------------- processes


@contextlib.contextmanager
def spawn(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop(process, timeout=20)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.1)


def answers(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        return httpx.get(url, headers=headers, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


# ---------------------------------------------------------------- the clients


@dataclass
class Calls:
    """Every API request the clients made: status (0: no answer) with error code, and time."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    outcomes: Counter[str] = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")

    def request(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        started = time.monotonic()
        response: httpx.Response | None
        try:
            response = client.request(method, path, **kwargs)
            outcome = str(response.status_code)
            if response.status_code >= 400:
                code = (response.json().get("error") or {}).get("code", "?") if _is_json(response) else "?"
                outcome += f" {code}"
        except httpx.HTTPError as error:
            response, outcome = None, f"no answer ({type(error).__name__})"
        elapsed = time.monotonic() - started
        with self.lock:
            self.outcomes[f"{method} {outcome}"] += 1
            self.waits.append(elapsed)
            if elapsed > self.slowest[0]:
                self.slowest = (elapsed, f"{method} {path} → {outcome}")
        return response


def _is_json(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).startswith("application/json")


def retry_delay(response: httpx.Response | None) -> float:
    if response is not None and response.headers.get("Retry-After", "").isdigit():
        return float(response.headers["Retry-After"])
    return 1.0


def submit(calls: Calls, client: httpx.Client, index: int, give_up: float) -> str | None:
    """One job, as a careful client sends it: the same Idempotency-Key on every try."""
    key = f"chaos-{index}-{uuid.uuid4().hex[:8]}"
    body = {**REQUEST, "prompt": f"{REQUEST['prompt']} [[fault:tag_{uuid.uuid4().hex[:10]}]]"}
    while time.monotonic() < give_up:
        response = calls.request(client, "POST", "/v1/jobs", json=body, headers={"Idempotency-Key": key})
        if response is not None and response.status_code in (200, 201, 202):
            return str(response.json()["jobId"])
        if response is not None and response.status_code < 500 and response.status_code != 429:
            return None  # refused for good: counted among the answers
        time.sleep(retry_delay(response))
    return None


def follow(
    calls: Calls, client: httpx.Client, job_ids: list[str], ended: dict[str, str], give_up: float
) -> None:
    """Poll each unfinished job in turn until every one has ended."""
    pending = list(job_ids)
    while pending and time.monotonic() < give_up:
        for job_id in list(pending):
            response = calls.request(client, "GET", f"/v1/jobs/{job_id}")
            if response is not None and response.status_code == 200:
                status = response.json()["status"]
                if status in TERMINAL:
                    ended[job_id] = status
                    pending.remove(job_id)
            time.sleep(0.05)
        time.sleep(0.5)


# ---------------------------------------------------------------- chaos


@dataclass
class Chaos:
    cluster: Cluster
    s3_proxy: subprocess.Popen[bytes]
    emulator_proxy: subprocess.Popen[bytes]
    kill_worker: Callable[[], None]
    restart_worker: Callable[[], None]
    storage_down: float = 15.0
    emulator_down: float = 30.0
    log: list[str] = field(default_factory=list)

    def run(self, began: float, stop_event: threading.Event) -> None:
        def at(seconds: float) -> bool:
            return not stop_event.wait(max(0.0, began + seconds - time.monotonic()))

        def note(what: str) -> None:
            self.log.append(f"{time.monotonic() - began:5.1f} s  {what}")

        storage_back = 20 + self.storage_down
        emulator_down = max(40.0, storage_back + 5)
        emulator_back = emulator_down + self.emulator_down
        steps: list[tuple[float, str, Callable[[], None]]] = [
            (8, "PostgreSQL restart 1", self.cluster.restart),
            (20, "object store down", lambda: self.s3_proxy.send_signal(signal.SIGUSR1)),
            (storage_back, "object store back", lambda: self.s3_proxy.send_signal(signal.SIGUSR2)),
            (emulator_down, "emulator unreachable", lambda: self.emulator_proxy.send_signal(signal.SIGUSR1)),
            (emulator_down + 10, "worker 1 SIGKILLed", self.kill_worker),
            (emulator_down + 13, "worker 1 started again", self.restart_worker),
            (emulator_back, "emulator reachable", lambda: self.emulator_proxy.send_signal(signal.SIGUSR2)),
            (max(80.0, emulator_back + 10), "PostgreSQL restart 2", self.cluster.restart),
        ]
        steps.sort(key=lambda step: step[0])
        for seconds, what, action in steps:
            if not at(seconds):
                return
            started = time.monotonic()
            action()
            note(f"{what} ({time.monotonic() - started:.1f} s)")


# ---------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds before unfinished jobs count as lost"
    )
    parser.add_argument("--storage-down", type=float, default=15.0, help="seconds the object store is down")
    parser.add_argument(
        "--emulator-down", type=float, default=30.0, help="seconds the emulator is unreachable"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (path printed)")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"bench-chaos needs a throwaway PostgreSQL: {reason}")

    tmp = Path(tempfile.mkdtemp(prefix="pixelmotion-chaos-"))
    logs = tmp / "logs"
    logs.mkdir()
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(throwaway_postgres())
        # S3: moto, behind a proxy the chaos takes down.
        moto_port, s3_port = free_port(), free_port()
        stack.enter_context(
            spawn([sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(moto_port)], logs / "moto.log")
        )
        wait_until(lambda: answers(f"http://{HOST}:{moto_port}/moto-api/"), 60, "moto")
        s3_proxy = stack.enter_context(spawn([*PROXY, str(s3_port), str(moto_port)], logs / "s3-proxy.log"))
        bucket = f"chaos-{uuid.uuid4().hex[:12]}"
        direct = S3ObjectStore(
            bucket,
            "",
            endpoint_url=f"http://{HOST}:{moto_port}",
            region=S3_REGION,
            access_key_id=S3_KEY,
            secret_access_key=S3_KEY,
        )
        direct.ensure_bucket()

        # The emulator, behind a proxy the chaos takes down.
        emulator_port, luma_port = free_port(), free_port()
        base_env = server_env(
            tmp / "data",
            emulator_port,
            cluster.url,
            secrets.token_hex(32),
            **SETTINGS,
            EMULATOR_API_KEY=LUMA_KEY,
            EMULATOR_DREAM_SECONDS="1",
            EMULATOR_CLIP_DIR=str(CLIP_CACHE),
        )
        stack.enter_context(
            spawn([*PIXELMOTION, "emulator", "--port", str(emulator_port)], logs / "emulator.log", base_env)
        )
        emulator_direct = f"http://{HOST}:{emulator_port}/dream-machine/v1"
        luma_headers = {"Authorization": f"Bearer {LUMA_KEY}"}
        wait_until(lambda: answers(f"{emulator_direct}/ping", luma_headers), 60, "the emulator")
        emulator_proxy = stack.enter_context(
            spawn([*PROXY, str(luma_port), str(emulator_port)], logs / "emulator-proxy.log")
        )

        api_port = free_port()
        env = {
            **base_env,
            "PIXELMOTION_PORT": str(api_port),
            "PIXELMOTION_LUMA_BASE_URL": f"http://{HOST}:{luma_port}/dream-machine/v1",
            "PIXELMOTION_ALLOWED_ASSET_HOSTS": f"{HOST}:{emulator_port},{HOST}:{luma_port}",
            "PIXELMOTION_STORAGE_URL": f"s3://{bucket}/results",
            "PIXELMOTION_S3_ENDPOINT_URL": f"http://{HOST}:{s3_port}",
            "PIXELMOTION_USER_MAX_ACTIVE_JOBS": str(args.jobs),
            "PIXELMOTION_USER_JOBS_PER_HOUR": str(args.jobs),
        }
        subprocess.run([*PIXELMOTION, "migrate"], env=env, check=True, capture_output=True)
        api = f"http://{HOST}:{api_port}"
        stack.enter_context(spawn([*PIXELMOTION, "serve", "--no-worker"], logs / "api.log", env))
        wait_until(lambda: answers(f"{api}/healthz"), 60, "the API")
        workers: dict[str, subprocess.Popen[bytes]] = {}
        for name in ("worker-1", "worker-2"):
            workers[name] = stack.enter_context(spawn([*PIXELMOTION, "worker"], logs / f"{name}.log", env))

        def kill_worker() -> None:
            workers["worker-1"].send_signal(signal.SIGKILL)
            workers["worker-1"].wait()

        def restart_worker() -> None:
            workers["worker-1b"] = stack.enter_context(
                spawn([*PIXELMOTION, "worker"], logs / "worker-1b.log", env)
            )

        secret = env["PIXELMOTION_JWT_SECRET"]
        clients = {
            user: httpx.Client(
                base_url=api,
                headers={"Authorization": f"Bearer {issue_token(secret, user, audience=AUDIENCE)}"},
                timeout=httpx.Timeout(10.0),
            )
            for user in USERS
        }
        calls = Calls()
        chaos = Chaos(
            cluster,
            s3_proxy,
            emulator_proxy,
            kill_worker,
            restart_worker,
            args.storage_down,
            args.emulator_down,
        )
        halt = threading.Event()
        began = time.monotonic()
        give_up = began + args.timeout
        chaos_thread = threading.Thread(target=chaos.run, args=(began, halt), daemon=True)
        chaos_thread.start()

        job_ids: dict[str, list[str]] = {user: [] for user in USERS}
        ended: dict[str, str] = {}
        refused = 0

        def user_run(user: str, indexes: range) -> None:
            nonlocal refused
            for index in indexes:
                job_id = submit(calls, clients[user], index, give_up)
                if job_id is None:
                    refused += 1
                else:
                    job_ids[user].append(job_id)
            follow(calls, clients[user], job_ids[user], ended, give_up)

        per_user = args.jobs // len(USERS)
        threads = [
            threading.Thread(target=user_run, args=(user, range(i * per_user, (i + 1) * per_user)))
            for i, user in enumerate(USERS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        halt.set()
        chaos_thread.join(timeout=120)
        for sender in (s3_proxy, emulator_proxy):  # whatever the chaos left down is back
            sender.send_signal(signal.SIGUSR2)
        time.sleep(0.5)

        stats = httpx.get(f"{emulator_direct}/_stats", headers=luma_headers, timeout=10).json()
        generations = list_generations(emulator_direct, luma_headers)
        engine = create_engine(cluster.url)
        repository = Store(engine)
        all_ids = [job_id for ids in job_ids.values() for job_id in ids]
        clean = report(repository, direct, all_ids, refused, calls, stats, generations, chaos.log, elapsed)
        engine.dispose()
        for client in clients.values():
            client.close()
    if args.keep_logs:
        print(f"logs: {logs}", file=sys.stderr)
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    if not clean:
        raise SystemExit(1)


def report(
    repository: Store,
    bucket: S3ObjectStore,
    job_ids: list[str],
    refused: int,
    calls: Calls,
    stats: dict[str, Any],
    generations: list[dict[str, Any]],
    timeline: list[str],
    elapsed: float,
) -> bool:
    jobs = {job_id: repository.jobs.get(job_id) for job_id in job_ids}
    statuses = Counter(job.status.value if job else "missing" for job in jobs.values())
    lost = refused + sum(1 for job in jobs.values() if job is None or job.status.value not in TERMINAL)
    failed = Counter(
        f"{job.error_code}: {(job.error_message or '')[:90]}"
        for job in jobs.values()
        if job and job.status.value == "failed"
    )
    completed = [job for job in jobs.values() if job and job.status.value == "completed"]
    missing_outputs = sum(
        1
        for job in completed
        if not all(bucket.exists(f"results/{key}") for key in (job.frame_storage_urls or {}).values())
    )
    refunded = sum(1 for g in generations if g["state"] == "failed")
    paid = int(stats["created"]) - refunded
    per_job: Counter[str] = Counter()
    for generation in generations:
        callback = str((generation.get("request") or {}).get("callback_url") or "")
        if generation["state"] != "failed" and "/callbacks/luma/" in callback:
            per_job[callback.split("/callbacks/luma/")[-1].split("?")[0]] += 1
    paid_twice = sum(1 for count in per_job.values() if count > 1)
    runs = [
        sum(1 for event in repository.events.after(job_id=job.id) if event.message == DOWNLOADING)
        for job in completed
    ]
    server_errors = {k: v for k, v in calls.outcomes.items() if " 5" in k and "503" not in k}
    uncoded_503 = {k: v for k, v in calls.outcomes.items() if " 503" in k and k.endswith(" ?")}

    rows: list[tuple[str, str]] = [("jobs submitted", str(len(job_ids) + refused))]
    rows.append(("never accepted by the API", str(refused)))
    rows.append(("completed", str(statuses.get("completed", 0))))
    rows += [(f"failed: {reason}", str(count)) for reason, count in sorted(failed.items())]
    rows.append(("lost: never accepted or not ended (must be 0)", str(lost)))
    rows.append(("completed with outputs missing (must be 0)", str(missing_outputs)))
    rows.append(("generations billed / refunded", f"{stats['created']} / {refunded}"))
    per_animation = f"{paid / len(completed):.2f} ({paid}/{len(completed)})" if completed else "n/a"
    rows.append(("paid generations per delivered animation (must be 1.00)", per_animation))
    rows.append(("jobs paid more than once", str(paid_twice)))
    if runs:
        rows.append(
            (
                "processing runs per completed job",
                f"{statistics.mean(runs):.2f} (max {max(runs)}; jobs run again: {sum(r > 1 for r in runs)})",
            )
        )
    for outcome, count in sorted(calls.outcomes.items()):
        rows.append((f"API: {outcome}", str(count)))
    rows.append(("API requests", str(len(calls.waits))))
    rows.append(
        (
            "request wait p50 / p99",
            f"{percentile(calls.waits, 50):.3f} s / {percentile(calls.waits, 99):.3f} s",
        )
    )
    rows.append(("longest request wait (must be < 2 s)", f"{calls.slowest[0]:.2f} s ({calls.slowest[1]})"))
    rows.append(("wall time", f"{elapsed:.0f} s ({load()})"))
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    print(f"\n{machine()}")
    print("chaos timeline:")
    for line in timeline:
        print(f"  {line}")
    return (
        lost == 0
        and not failed
        and missing_outputs == 0
        and paid == len(completed)
        and paid_twice == 0
        and not server_errors
        and not uncoded_503
        and calls.slowest[0] < ANSWER_WITHIN
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
