"""The claim loop: take due jobs (a lease on the row), run their step, renew the lease while
working, and always let go. Any number of these may run, in any number of processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from pixelmotion import logs as log_context
from pixelmotion.bootstrap import Services
from pixelmotion.jobs import moves
from pixelmotion.jobs.errors import ErrorCode
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.store.rows import utcnow
from pixelmotion.worker import steps
from pixelmotion.worker.backoff import backoff_seconds

logger = logging.getLogger(__name__)

Step = Callable[[steps.StepContext, Job], Awaitable[None]]

STEPS: dict[JobStatus, Step] = {
    JobStatus.PENDING: steps.submit,
    JobStatus.QUEUED: steps.poll,
    JobStatus.DREAMING: steps.poll,
    JobStatus.PROCESSING: steps.process,
}
MAX_UNEXPECTED_FAILURES = 5


class Worker:
    def __init__(self, services: Services, *, owner: str | None = None) -> None:
        self.services = services
        self.owner = owner or services.instance_id
        self.context = steps.StepContext(services, self.owner)
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(services.settings.worker_concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def nudge(self, *_: object) -> None:
        """Look for work now (a job was created or moved in this process). Thread-safe."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.services.repository.add_listener(self.nudge)
        self.services.worker_running = True
        settings = self.services.settings
        logger.info("worker %s started (%d at a time)", self.owner, settings.worker_concurrency)
        try:
            while True:
                await self._slots.acquire()
                job = await self._claim()
                if job is None:
                    self._slots.release()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), settings.worker_poll_seconds)
                    self._wake.clear()
                    continue
                task = asyncio.create_task(self._run_job(job))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            self.services.worker_running = False
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _claim(self) -> Job | None:
        try:
            admission = self.services.admission
            return await asyncio.to_thread(
                self.services.repository.queue.claim,
                self.owner,
                lease_seconds=self.services.settings.lease_seconds,
                caps=admission.caps if admission.caps.enabled else None,
                send_new=admission.send_new(utcnow()),
            )
        except Exception:  # the database is busy or away: the loop waits and tries again
            logger.warning("claim failed", exc_info=True)
            return None

    async def _run_job(self, job: Job) -> None:
        log_context.job_id.set(job.id)  # this task's log lines name the job
        renewer = asyncio.create_task(self._renew(job))
        step = "expire" if steps.past_deadline(self.context, job) else STEPS[job.status].__name__
        started, outcome = time.perf_counter(), "ok"
        try:
            if step == "expire":
                await steps.expire(self.context, job)
            else:
                await STEPS[job.status](self.context, job)
        except asyncio.CancelledError:
            outcome = "canceled"
            raise
        except Exception as error:
            outcome = "crashed"
            await self._step_crashed(job, error)
        finally:
            self.services.metrics.step_seconds.labels(step, outcome).observe(time.perf_counter() - started)
            renewer.cancel()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.services.repository.queue.release, job.id, self.owner)
            self._slots.release()
            self._wake.set()

    async def _renew(self, job: Job) -> None:
        lease = self.services.settings.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            await asyncio.to_thread(
                self.services.repository.queue.renew_lease, job.id, self.owner, lease_seconds=lease
            )

    async def _step_crashed(self, job: Job, error: Exception) -> None:
        """A bug or an outage, not a verdict on the job: retry with backoff, then give up."""
        logger.exception("job %s: %s step crashed", job.id, job.status.value)
        repository = self.services.repository
        if job.attempts + 1 >= MAX_UNEXPECTED_FAILURES:
            move = moves.failed(
                ErrorCode.PROCESSING_FAILED,
                "The job failed after several attempts; the error was logged.",
                {"exception": type(error).__name__},
            )
            await asyncio.to_thread(repository.jobs.apply, job.id, move)
            return
        when = utcnow() + timedelta(seconds=backoff_seconds(job.attempts))
        await asyncio.to_thread(
            repository.queue.release,
            job.id,
            self.owner,
            reschedule=(job.status, steps.by_deadline(self.context, job, when)),
            failed_attempt=True,
        )
