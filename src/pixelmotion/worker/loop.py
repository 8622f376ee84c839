"""The claim loop: take due jobs (a lease on the row), run their step, renew the lease while
working, and always let go. Any number of these may run, in any number of processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pixelmotion import logs as log_context
from pixelmotion.jobs import moves
from pixelmotion.jobs.errors import ErrorCode
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.metrics import Metrics
from pixelmotion.store.database import is_database_outage
from pixelmotion.worker.backoff import backoff_seconds
from pixelmotion.worker.outages import claim_backoff, while_database_away
from pixelmotion.worker.poll import by_deadline, expire, past_deadline, poll
from pixelmotion.worker.ports import StepPorts
from pixelmotion.worker.process import process
from pixelmotion.worker.submit import submit

logger = logging.getLogger(__name__)

Step = Callable[[StepPorts, Job], Awaitable[None]]

STEPS: dict[JobStatus, Step] = {
    JobStatus.PENDING: submit,
    JobStatus.QUEUED: poll,
    JobStatus.DREAMING: poll,
    JobStatus.PROCESSING: process,
}
MAX_UNEXPECTED_FAILURES = 5


class Worker:
    def __init__(
        self,
        ports: StepPorts,
        *,
        metrics: Metrics | None = None,
        on_running: Callable[[bool], None] = lambda _: None,
    ) -> None:
        self.ports = ports
        self.owner = ports.owner
        self.metrics = metrics or Metrics()
        self._on_running = on_running
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(ports.settings.worker_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: set[str] = set()  # ids of the jobs this worker's steps are running
        self._loop: asyncio.AbstractEventLoop | None = None

    def nudge(self, *_: object) -> None:
        """Look for work now (a job was created or moved in this process). Thread-safe."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.ports.store.add_listener(self.nudge)
        self._on_running(True)
        settings = self.ports.settings
        logger.info("worker %s started (%d at a time)", self.owner, settings.worker_concurrency)
        failures = 0  # claims failed in a row: the database is away
        try:
            while True:
                await self._slots.acquire()
                try:
                    job = await self._claim()
                except Exception as error:
                    self._slots.release()
                    failures += 1
                    if is_database_outage(error):
                        logger.warning("claim failed: the database is away (%s)", type(error).__name__)
                    else:
                        logger.warning("claim failed", exc_info=True)
                    await asyncio.sleep(claim_backoff(failures))  # not woken early: back off
                    continue
                failures = 0
                if job is None:
                    self._slots.release()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), settings.worker_poll_seconds)
                    self._wake.clear()
                    continue
                if job.id in self._running:
                    # Our own step still runs it: starved past its lease, it was claimed again
                    # by this worker (same owner), which only renewed the lease. One run.
                    self._slots.release()
                    continue
                self._running.add(job.id)
                task = asyncio.create_task(self._run_job(job))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            self._on_running(False)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _claim(self) -> Job | None:
        admission = self.ports.admission
        return await asyncio.to_thread(
            self.ports.store.queue.claim,
            self.owner,
            lease_seconds=self.ports.settings.lease_seconds,
            caps=admission.caps if admission.caps.enabled else None,
            send_new=admission.send_new(self.ports.clock()),
            now=self.ports.clock(),
        )

    async def _run_job(self, job: Job) -> None:
        log_context.job_id.set(job.id)  # this task's log lines name the job
        lease = LeaseWatch()
        this_run = asyncio.current_task()
        renewer = asyncio.create_task(self._renew(job, lease, this_run))
        step = "expire" if past_deadline(self.ports, job) else STEPS[job.status].__name__
        started, outcome = time.perf_counter(), "ok"
        try:
            if step == "expire":
                await expire(self.ports, job)
            else:
                await STEPS[job.status](self.ports, job)
        except asyncio.CancelledError:
            outcome = "lease_lost" if lease.lost else "canceled"
            if not lease.lost or this_run is None:
                raise
            this_run.uncancel()  # our own stop, not the loop's: the worker goes on
            logger.warning("job %s: lease lost to another worker; step stopped", job.id)
        except Exception as error:
            outcome = "crashed"
            await self._step_crashed(job, error)
        finally:
            # Before the lease goes: a claim after the release starts the job's next step.
            self._running.discard(job.id)
            try:
                self.metrics.step_seconds.labels(step, outcome).observe(time.perf_counter() - started)
                renewer.cancel()
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.ports.store.queue.release, job.id, self.owner)
            finally:
                self._slots.release()
                self._wake.set()

    async def _renew(self, job: Job, lease: LeaseWatch, step: asyncio.Task[Any] | None) -> None:
        """Keep the lease while the step runs; through a database outage keep trying (the
        lease still holds for a while); if another worker has taken the job, stop the step."""
        seconds = self.ports.settings.lease_seconds
        while True:
            await asyncio.sleep(seconds / 3)
            try:
                kept = await asyncio.to_thread(
                    self.ports.store.queue.renew_lease, job.id, self.owner, lease_seconds=seconds
                )
            except Exception as error:
                if is_database_outage(error):
                    logger.warning("job %s: lease not renewed, the database is away", job.id)
                else:
                    logger.warning("job %s: lease not renewed", job.id, exc_info=True)
                continue
            if not kept:
                lease.lost = True
                if step is not None:
                    step.cancel()
                return

    async def _step_crashed(self, job: Job, error: Exception) -> None:
        """A bug or an outage, not a verdict on the job: retry with backoff, then give up.
        A database outage counts no attempt; this never raises: if the database stays away
        for a whole lease, the lease's end hands the job on."""
        outage = is_database_outage(error)
        if outage:
            logger.warning(
                "job %s: %s step met a database outage (%s)", job.id, job.status.value, type(error).__name__
            )
        else:
            logger.exception("job %s: %s step crashed", job.id, job.status.value)
        try:
            await while_database_away(
                lambda: self._give_back(job, error, outage),
                budget_seconds=self.ports.settings.lease_seconds,
                what=f"job {job.id}: release after a crash",
            )
        except Exception:
            logger.exception("job %s: could not release after a crash; left to the lease", job.id)

    async def _give_back(self, job: Job, error: Exception, outage: bool) -> None:
        repository = self.ports.store
        if not outage and job.attempts + 1 >= MAX_UNEXPECTED_FAILURES:
            move = moves.failed(
                ErrorCode.PROCESSING_FAILED,
                "The job failed after several attempts; the error was logged.",
                {"exception": type(error).__name__},
            )
            await asyncio.to_thread(repository.jobs.apply, job.id, move)
            return
        seconds = OUTAGE_RETRY_SECONDS if outage else backoff_seconds(job.attempts)
        when = self.ports.clock() + timedelta(seconds=seconds)
        await asyncio.to_thread(
            repository.queue.release,
            job.id,
            self.owner,
            reschedule=(job.status, by_deadline(self.ports, job, when)),
            failed_attempt=not outage,
        )


OUTAGE_RETRY_SECONDS = 2.0  # a step that met a database outage runs again soon after it


@dataclass
class LeaseWatch:
    lost: bool = False
