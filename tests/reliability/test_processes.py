"""Processes dying: a worker killed with SIGKILL mid-processing, and the whole service stopped
with jobs in every state. Real ``pixelmotion`` processes, as in production; afterwards every
job ends, each paid once, each completed job processed once more at most."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pixelmotion.store import Store, create_engine
from tests.databases import postgres_schema_url
from tests.processes import EMULATOR_KEY, PIXELMOTION, alive, children_of, env_for, running, wait_healthy
from tests.reliability.conftest import DOWNLOADING, PROMPT, REQUEST, TERMINAL, bill
from tests.server import free_port, wait_for


class Deployment:
    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.url = f"http://127.0.0.1:{env['PIXELMOTION_PORT']}"
        self.emulator = f"{self.url}/emulator/luma/dream-machine/v1"
        token = subprocess.run(
            [*PIXELMOTION, "token", "--user", "alice"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        self.headers = {"Authorization": f"Bearer {token}"}
        self.engine = create_engine(
            env.get("PIXELMOTION_DATABASE_URL") or f"sqlite:///{tmp_path / 'pixelmotion.db'}"
        )
        self.repository = Store(self.engine)

    def create(self, fault: str = "") -> str:
        body = {**REQUEST, "prompt": f"{PROMPT} {fault}".strip()}
        response = httpx.post(f"{self.url}/v1/jobs", json=body, headers=self.headers, timeout=10)
        assert response.status_code == 202, response.text
        job_id: str = response.json()["jobId"]
        return job_id

    def status(self, job_id: str) -> str:
        job = self.repository.jobs.get(job_id)
        assert job is not None
        return job.status.value

    def job(self, job_id: str) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/v1/jobs/{job_id}", headers=self.headers).json()
        return body

    def runs(self, job_id: str) -> int:
        return sum(1 for e in self.repository.events.after(job_id=job_id) if e.message == DOWNLOADING)

    def bill(self) -> dict[str, int]:
        return bill(self.emulator, EMULATOR_KEY)

    def wait_terminal(self, job_ids: list[str], timeout: float) -> None:
        try:
            wait_for(
                lambda: all(self.status(j) in TERMINAL for j in job_ids),
                timeout=timeout,
                what="every job to end",
                interval=0.2,
            )
        except AssertionError as error:
            left = {j: self.repository.jobs.get(j) for j in job_ids}
            detail = {j: (job.status.value, job.attempts, job.next_run_at) for j, job in left.items() if job}
            raise AssertionError(f"{error}: {detail}") from None


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_worker_killed_mid_processing_is_replaced_after_its_lease(tmp_path: Path, database: str) -> None:
    port = free_port()
    with contextlib.ExitStack() as stack:
        # A lease long enough that the heir, renewing every third of it, keeps it on a loaded
        # machine (a heir starved past a 2 s lease lost it to itself: a third run).
        extra = {"LEASE_SECONDS": "5", "EMULATOR_DREAM_SECONDS": "0.4", "CALLBACK_GRACE_SECONDS": "2"}
        if database == "postgres":
            extra["DATABASE_URL"] = stack.enter_context(postgres_schema_url())
        env = env_for(tmp_path, port, **extra)
        api = stack.enter_context(running(["serve", "--no-worker"], env, tmp_path / "api.log"))
        wait_healthy(f"http://127.0.0.1:{port}", api, tmp_path / "api.log")
        deployment = Deployment(tmp_path, env)
        stack.callback(deployment.engine.dispose)
        doomed = stack.enter_context(running(["worker"], env, tmp_path / "doomed.log"))
        # A slow download keeps the job in processing long enough to be killed there.
        job_id = deployment.create("[[fault:slow_asset]]")
        wait_for(lambda: deployment.runs(job_id) == 1, timeout=60, what="processing to start", interval=0.05)
        held = deployment.repository.jobs.get(job_id)
        assert held is not None and held.status.value == "processing" and held.lease_owner
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=10)

        stack.enter_context(running(["worker"], env, tmp_path / "heir.log"))
        deployment.wait_terminal([job_id], timeout=60)
        job = deployment.job(job_id)
        assert job["status"] == "completed", job
        assert deployment.runs(job_id) == 2  # the killed run, then the heir's
        statuses = [e.status.value for e in deployment.repository.events.after(job_id=job_id)]
        assert statuses.count("completed") == 1
        assert deployment.bill() == {"created": 1, "failed": 0, "paid": 1, "deleted": 0}
        final = deployment.repository.jobs.get(job_id)
        assert final is not None and final.lease_owner is None
        # The result is whole: every stored output is readable.
        for name in ("animation.gif", "sheet.png"):
            response = httpx.get(f"{deployment.url}/v1/jobs/{job_id}/{name}", headers=deployment.headers)
            assert response.status_code == 200 and response.content, name


def emulator_saved(data_dir: Path, deployment: Deployment, job_ids: Iterable[str]) -> bool:
    """Whether the embedded emulator's file holds every generation these jobs were given."""
    given = {job.luma_generation_id for job in map(deployment.repository.jobs.get, job_ids) if job}
    try:
        saved = json.loads((data_dir / "emulator" / "generations.json").read_text())
    except (OSError, ValueError):  # not written yet, or caught mid-write
        return False
    return given - {None} <= {record["generation"]["id"] for record in saved["generations"]}


def test_a_restart_with_jobs_in_every_state_ends_every_job(tmp_path: Path) -> None:
    port = free_port()
    env = env_for(
        tmp_path,
        port,
        LEASE_SECONDS="2",
        EMULATOR_DREAM_SECONDS="3",
        CALLBACK_GRACE_SECONDS="1",
    )
    url = f"http://127.0.0.1:{port}"
    jobs: dict[str, str] = {}
    with running(["serve"], env, tmp_path / "serve1.log") as first:
        wait_healthy(url, first, tmp_path / "serve1.log")
        deployment = Deployment(tmp_path, env)
        jobs["completed"] = deployment.create()
        jobs["failed"] = deployment.create("[[fault:fail_generation=Frame moderation failed]]")
        deployment.wait_terminal([jobs["completed"], jobs["failed"]], timeout=60)
        jobs["processing"] = deployment.create("[[fault:slow_asset]] [[fault:drop_callbacks]]")
        wait_for(lambda: deployment.status(jobs["processing"]) == "processing", timeout=30, what="processing")
        jobs["dreaming"] = deployment.create("[[fault:delay_callbacks]]")
        wait_for(
            lambda: deployment.status(jobs["dreaming"]) in ("queued", "dreaming"),
            timeout=30,
            what="a job with the model",
        )
        # Refused once (500), waiting for its retry. (The emulator forgets its directive
        # counts at a restart: it is refused once more afterwards.)
        jobs["pending"] = deployment.create("[[fault:create_500*1]]")
        wait_for(
            lambda: (
                (job := deployment.repository.jobs.get(jobs["pending"])) is not None and job.attempts >= 1
            ),
            timeout=30,
            what="the create to be refused",
        )
        seen = {name: deployment.status(job_id) for name, job_id in jobs.items()}
        # The embedded emulator writes its generations a moment after a change (see
        # test_the_emulator_keeps_a_generation_it_answered_for): wait until every generation
        # our jobs know is on disk, so what is tested here is our restart, not the emulator
        # forgetting a billed generation.
        wait_for(
            lambda: emulator_saved(tmp_path, deployment, jobs.values()),
            timeout=10,
            what="the emulator to save the generations",
        )
        first.send_signal(signal.SIGKILL)  # no chance to tidy up
        first.wait(timeout=10)
    assert seen["completed"] == "completed" and seen["failed"] == "failed"
    assert seen["processing"] == "processing" and seen["pending"] == "pending"
    assert seen["dreaming"] in ("queued", "dreaming")

    with running(["serve"], env, tmp_path / "serve2.log") as second:
        wait_healthy(url, second, tmp_path / "serve2.log")
        deployment.wait_terminal(list(jobs.values()), timeout=90)
        ends = {name: deployment.job(job_id) for name, job_id in jobs.items()}
        for name in ("completed", "processing", "pending", "dreaming"):
            assert ends[name]["status"] == "completed", (name, ends[name])
            assert 1 <= deployment.runs(jobs[name]) <= 2, name
        assert ends["failed"]["status"] == "failed"
        assert ends["failed"]["error"]["code"] == "LUMA_GENERATION_FAILED"
        assert deployment.bill() == {"created": 5, "failed": 1, "paid": 4, "deleted": 0}
    deployment.engine.dispose()


def test_the_emulator_keeps_a_generation_it_answered_for(tmp_path: Path) -> None:
    env = env_for(tmp_path, free_port(), EMULATOR_DREAM_SECONDS="30")
    headers = {"Authorization": f"Bearer {EMULATOR_KEY}"}
    log = tmp_path / "emulator.log"

    def up(base: str, process: subprocess.Popen[bytes]) -> bool:
        assert process.poll() is None, log.read_text()  # it died (e.g. its port was taken)
        try:
            return httpx.get(f"{base}/ping", headers=headers, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    port = free_port()
    base = f"http://127.0.0.1:{port}/dream-machine/v1"
    with running(["emulator", "--port", str(port)], env, log) as emulator:
        wait_for(lambda: up(base, emulator), timeout=60, what="the emulator", interval=0.1)
        body = {"model": "ray-2", "prompt": PROMPT, "resolution": "540p"}
        created = httpx.post(f"{base}/generations/video", json=body, headers=headers, timeout=10)
        assert created.status_code == 201
        emulator.send_signal(signal.SIGKILL)
        emulator.wait(timeout=10)
    # Back on a fresh port: while it was down, another test's connection may have taken the
    # old one as its source port. What it keeps lives in its data directory, not its port.
    port = free_port()
    base = f"http://127.0.0.1:{port}/dream-machine/v1"
    with running(["emulator", "--port", str(port)], env, log) as emulator:
        wait_for(lambda: up(base, emulator), timeout=60, what="the emulator again", interval=0.1)
        again = httpx.get(f"{base}/generations/{created.json()['id']}", headers=headers)
        assert again.status_code == 200, again.text


POOL_PARENT = """
import os, sys, threading
from pixelmotion.bootstrap import make_executor
from pixelmotion.config import load_settings

executor = make_executor(load_settings({"PIXELMOTION_DATA_DIR": sys.argv[1]}))
print(executor.submit(os.getpid).result(), flush=True)
threading.Event().wait()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="child processes are read from /proc")
def test_the_process_pool_ends_with_its_process(tmp_path: Path) -> None:
    """A killed worker's pool process would otherwise wait for work for ever (no one closes
    its pipe), holding its memory: it notices its parent is gone and exits."""
    parent = subprocess.Popen([sys.executable, "-c", POOL_PARENT, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        pool_pid = int(parent.stdout.readline())
        assert pool_pid in children_of(parent.pid)
    finally:
        parent.kill()
        parent.wait(timeout=10)
        if parent.stdout is not None:
            parent.stdout.close()
    try:
        wait_for(lambda: not alive(pool_pid), timeout=10, what="the pool process to exit", interval=0.1)
    finally:
        if alive(pool_pid):
            os.kill(pool_pid, signal.SIGKILL)


def test_sigterm_stops_a_worker_cleanly(tmp_path: Path) -> None:
    """A deploy stops workers with SIGTERM: the worker cancels its jobs and releases their
    leases (others take them over at once), then exits 0, rather than dying by the signal."""
    env = env_for(tmp_path, free_port())
    log = tmp_path / "worker.log"
    with running(["worker"], env, log) as worker:
        wait_for(lambda: "started (" in log.read_text(), timeout=60, what="the worker to start", interval=0.1)
        worker.send_signal(signal.SIGTERM)
        wait_for(lambda: worker.poll() is not None, timeout=20, what="the worker to exit", interval=0.1)
        assert worker.returncode == 0, log.read_text()


def test_sigterm_stops_serve_cleanly(tmp_path: Path) -> None:
    """``serve`` on SIGTERM: uvicorn's graceful shutdown, then the services are closed (the
    database connections, the process pool) and the process exits 0, rather than dying by
    the signal uvicorn raises again once it has shut down."""
    port = free_port()
    env = env_for(tmp_path, port)
    log = tmp_path / "serve.log"
    with running(["serve"], env, log) as server:
        wait_for(
            lambda: "Uvicorn running" in log.read_text(), timeout=60, what="serve to start", interval=0.1
        )
        server.send_signal(signal.SIGTERM)
        wait_for(lambda: server.poll() is not None, timeout=20, what="serve to exit", interval=0.1)
        assert server.returncode == 0, log.read_text()
        assert "pixelmotion stopped" in log.read_text()
