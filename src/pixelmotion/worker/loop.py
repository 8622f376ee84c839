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
from pixelmotion.jobs import moves
from pixelmotion.jobs.errors import ErrorCode
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.metrics import Metrics
from pixelmotion.worker.backoff import backoff_seconds
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
            self._on_running(False)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _claim(self) -> Job | None:
        try:
            admission = self.ports.admission
            return await asyncio.to_thread(
                self.ports.store.queue.claim,
                self.owner,
                lease_seconds=self.ports.settings.lease_seconds,
                caps=admission.caps if admission.caps.enabled else None,
                send_new=admission.send_new(self.ports.clock()),
                now=self.ports.clock(),
            )
        except Exception:  # the database is busy or away: the loop waits and tries again
            logger.warning("claim failed", exc_info=True)
            return None

    async def _run_job(self, job: Job) -> None:
        log_context.job_id.set(job.id)  # this task's log lines name the job
        renewer = asyncio.create_task(self._renew(job))
        step = "expire" if past_deadline(self.ports, job) else STEPS[job.status].__name__
        started, outcome = time.perf_counter(), "ok"
        try:
            if step == "expire":
                await expire(self.ports, job)
            else:
                await STEPS[job.status](self.ports, job)
        except asyncio.CancelledError:
            outcome = "canceled"
            raise
        except Exception as error:
            outcome = "crashed"
            await self._step_crashed(job, error)
        finally:
            self.metrics.step_seconds.labels(step, outcome).observe(time.perf_counter() - started)
            renewer.cancel()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.ports.store.queue.release, job.id, self.owner)
            self._slots.release()
            self._wake.set()

    async def _renew(self, job: Job) -> None:
        lease = self.ports.settings.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            await asyncio.to_thread(
                self.ports.store.queue.renew_lease, job.id, self.owner, lease_seconds=lease
            )

    async def _step_crashed(self, job: Job, error: Exception) -> None:
        """A bug or an outage, not a verdict on the job: retry with backoff, then give up."""
        logger.exception("job %s: %s step crashed", job.id, job.status.value)
        repository = self.ports.store
        if job.attempts + 1 >= MAX_UNEXPECTED_FAILURES:
            move = moves.failed(
                ErrorCode.PROCESSING_FAILED,
                "The job failed after several attempts; the error was logged.",
                {"exception": type(error).__name__},
            )
            await asyncio.to_thread(repository.jobs.apply, job.id, move)
            return
        when = self.ports.clock() + timedelta(seconds=backoff_seconds(job.attempts))
        await asyncio.to_thread(
            repository.queue.release,
            job.id,
            self.owner,
            reschedule=(job.status, by_deadline(self.ports, job, when)),
            failed_attempt=True,
        )
