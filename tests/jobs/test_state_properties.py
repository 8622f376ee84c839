"""Property tests of the job state machine (issue #6).

A Hypothesis rule-based state machine plays every actor of one job, in any order:

- the provider's callbacks (queued, dreaming, completed, failed with a reason Luma refunds or
  not), naming the job's generation, an older one or a stranger's, and handled from a read of
  the job made at any earlier moment (a handler reads, then applies: anything can happen
  between the two);
- the worker, under its lease: submits (a new generation), polls (the provider's answer about
  the generation the job had when claimed), processing runs (download, decode, encode,
  complete or fail) and deadlines;
- the user: cancels and retries, each from a read made at any earlier moment.

The moves are the project's own: the named constructors of ``jobs/moves.py`` that the worker
builds its moves with, ``jobs/updates.py``, and the use cases of ``app/``
(``receive_callback``, ``apply_generation``, ``cancel_job``, ``retry_job``). After every step
the job must be in a legal state and its history (its events: one per change) must never have moved backwards:

- every change of status is a move ``states.py`` allows, or one of its two named moves back:
  a retry (failed → processing, asked by the user, one per retry that succeeded) and a
  resubmit (→ pending, at most ``MAX_RESUBMITS``, after a failure Luma refunds);
- a terminal state stays terminal: completed and canceled never change again, failed only by
  a retry, which starts a new attempt;
- progress never decreases within an attempt (attempts are split by retries and resubmits);
- news of a generation moves the job only while that generation is the job's own;
- each status keeps its facts: its progress, its error, its generation, its queue columns.

Two runs of the same machine: here in memory, over a compare-and-set that mirrors
``Store.apply`` (many examples, in the fast tier), and in ``tests/store/test_state_properties.py``
over ``Store`` itself on a real SQLite file and PostgreSQL (fewer examples: each step is a few
transactions).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pixelmotion.app.callbacks import CallbackOutcome, apply_generation, receive_callback
from pixelmotion.app.jobs import NoPaidClip, cancel_job, retry_job
from pixelmotion.jobs import moves
from pixelmotion.jobs.errors import ErrorCode
from pixelmotion.jobs.models import Job, JobEvent
from pixelmotion.jobs.moves import Move, failed
from pixelmotion.jobs.requests import build_spec
from pixelmotion.jobs.states import (
    MAX_RESUBMITS,
    MESSAGES,
    PROCESSING_STEPS,
    PROGRESS,
    RESUBMIT_SOURCES,
    TERMINAL_STATES,
    JobStatus,
    can_move,
)
from pixelmotion.jobs.updates import TRANSIENT_FAILURE_REASONS
from pixelmotion.providers.base import Generation
from pixelmotion.store import Store
from pixelmotion.store.rows import utcnow

GRACE_SECONDS = 90.0
STATES = ("queued", "dreaming", "completed", "failed")
REASONS = (*sorted(TRANSIENT_FAILURE_REASONS), "Contains blacklisted words", None)
STRANGER = "gen-of-another-job"
# Actions that end a job are drawn with a die and happen on a 0 only: drawn as often as the
# others, they would end most jobs before the later states are ever reached.
RARELY = st.integers(0, 7)
RUN = ("download", "decode", "encode", "done")  # a processing run, as worker/process.py does it
PROGRESS_BOUNDS: dict[JobStatus, tuple[int, int]] = {
    JobStatus.PENDING: (0, 0),
    JobStatus.QUEUED: (20, 20),
    JobStatus.DREAMING: (60, 60),
    JobStatus.PROCESSING: (80, 99),
    JobStatus.COMPLETED: (100, 100),
    JobStatus.FAILED: (0, 99),  # where it was when it failed
    JobStatus.CANCELED: (0, 99),
}
JOB_FIELDS = {f.name for f in fields(Job)}


# --- an in-memory store: Store's compare-and-set, for one job -------------------------


class MemoryJobs:
    """The part of ``Store`` the use cases call, over one job in memory. ``apply`` is
    ``Store.apply``'s compare-and-set: the move applies only if the job is still in one
    of its source states, with the same values, and writes one event."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.log: list[JobEvent] = []
        self._event(job, job.created_at)
        # The store's aggregates, all over this one job.
        self.jobs = self.events = self.queue = self.callbacks = self

    def _event(self, job: Job, now: datetime) -> None:
        self.log.append(
            JobEvent(
                len(self.log) + 1, job.id, job.user_id, job.status, job.progress, job.progress_message, now
            )
        )

    def _set(self, statuses: frozenset[JobStatus], values: dict[str, Any], now: datetime) -> Job | None:
        if self.job.status not in statuses:
            return None
        unknown = set(values) - JOB_FIELDS
        assert not unknown, f"a move sets columns the job does not have: {unknown}"
        self.job = replace(self.job, **values)
        self._event(self.job, now)
        return self.job

    def get(self, job_id: str, *, user_id: str | None = None) -> Job | None:
        return self.job if job_id == self.job.id else None

    def apply(self, job_id: str, move: Move, *, now: datetime | None = None) -> Job | None:
        if move.generation_id is not None and self.job.luma_generation_id != move.generation_id:
            return None  # news of a generation that is no longer the job's
        now = now or utcnow()
        return self._set(move.sources, move.written(now), now)

    def report_progress(
        self, job_id: str, status: JobStatus, progress: int, message: str, *, now: datetime | None = None
    ) -> Job | None:
        now = now or utcnow()
        values = {"progress": progress, "progress_message": message, "updated_at": now}
        return self._set(frozenset({status}), values, now)

    def update_fields(self, job_id: str, status: JobStatus, values: dict[str, Any]) -> Job | None:
        if self.job.status is not status:
            return None
        self.job = replace(self.job, **values)  # facts only: no event
        return self.job

    def record(self, **_: Any) -> int:
        return 0

    def schedule(self, job_id: str, status: JobStatus, when: datetime) -> None:
        if self.job.status is status:
            self.job = replace(self.job, next_run_at=when)

    def after(self, *, job_id: str | None = None, **_: Any) -> list[JobEvent]:
        return list(self.log)


def memory_job() -> Job:
    now = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    return Job(
        id="3f2b8c1e-5d4a-4e8b-9c7d-2a1f0e6b9d55",
        user_id="alice",
        status=JobStatus.PENDING,
        progress=PROGRESS[JobStatus.PENDING],
        progress_message=MESSAGES[JobStatus.PENDING],
        prompt="a knight swinging a sword",
        provider_prompt="a knight swinging a sword",
        width=16,
        height=16,
        color_count=4,
        fps=12,
        duration=5,
        model="ray-2",
        resolution="540p",
        aspect_ratio="1:1",
        loop=False,
        dither="none",
        fit="crop",
        provider="emulator",
        created_at=now,
        updated_at=now,
        next_run_at=now,
    )


# --- the machine -----------------------------------------------------------------------------


class JobLife(RuleBasedStateMachine):
    """Every actor of one job, in any order. ``repository`` is a ``Store`` or a
    ``MemoryJobs`` (duck-typed: the use cases call only what both have)."""

    reads = Bundle("reads")  # the job as a request handler read it, at some earlier moment

    def __init__(self, repository: Store, job: Job) -> None:
        super().__init__()
        self.repository = repository
        self.job_id = job.id
        self.issued: list[str] = []  # generations the provider made for this job
        self.lease: Job | deque[str] | None = None  # the worker's: a claimed poll, or a processing run
        self.retried = 0  # retries that moved the job

    def current(self) -> Job:
        job = self.repository.jobs.get(self.job_id)
        assert job is not None
        return job

    def history(self) -> list[tuple[JobStatus, int]]:
        return [(e.status, e.progress) for e in self.repository.events.after(job_id=self.job_id)]

    @initialize(target=reads)
    def created(self) -> Job:
        return self.current()

    @rule(target=reads)
    def read(self) -> Job:
        return self.current()

    # --- the provider ------------------------------------------------------------------------

    def news(self, generation_id: str, state: str, reason: str | None) -> Generation:
        return Generation(
            id=generation_id,
            state=state,
            failure_reason=reason if state == "failed" else None,
            video_url=f"http://127.0.0.1:9/{generation_id}.mp4" if state == "completed" else None,
        )

    def named(self, read: Job, which: str, pick: int) -> str:
        """The generation a callback names: the read job's own (or, before the job recorded
        one, the newest the provider made), an older one, or another job's."""
        if which == "own":
            return read.luma_generation_id or (self.issued[-1] if self.issued else STRANGER)
        if which == "older" and self.issued:
            return self.issued[pick % len(self.issued)]
        return STRANGER

    @rule(
        read=reads,
        fresh=st.booleans(),
        which=st.sampled_from(["own", "own", "own", "older", "stranger"]),
        pick=st.integers(0, 7),
        state=st.sampled_from(STATES),
        reason=st.sampled_from(REASONS),
    )
    def callback(self, read: Job, fresh: bool, which: str, pick: int, state: str, reason: str | None) -> None:
        """POST /v1/callbacks/luma/{id}: a verified callback, handled from the job as read now
        (``fresh``) or from ``read``, made earlier."""
        read = self.current() if fresh else read
        generation_id = self.named(read, which, pick)
        before, count = self.current(), len(self.history())
        outcome = receive_callback(
            self.repository, read, self.news(generation_id, state, reason), grace_seconds=GRACE_SECONDS
        )
        moved = len(self.history()) > count
        assert moved == (outcome is CallbackOutcome.APPLIED), outcome
        self.moved_only_its_own(before, generation_id, moved)

    def moved_only_its_own(self, before: Job, generation_id: str, moved: bool) -> None:
        if moved:
            assert before.luma_generation_id == generation_id, (
                f"news of generation {generation_id} moved a job whose generation was "
                f"{before.luma_generation_id} ({before.status.value} → {self.current().status.value})"
            )

    # --- the worker (one lease at a time) --------------------------------------------------

    @precondition(lambda self: self.lease is None)
    @rule()
    def submit(self) -> None:
        """A pending job is sent; the provider makes a generation; pending → queued."""
        if self.current().status is not JobStatus.PENDING:
            return
        generation_id = f"{self.job_id}-gen-{len(self.issued) + 1}"  # unique, as the provider's are
        self.issued.append(generation_id)
        now = utcnow()
        move = moves.submitted(generation_id, now=now, check_at=now + timedelta(seconds=GRACE_SECONDS))
        self.repository.jobs.apply(self.job_id, move)  # None if canceled meanwhile

    @precondition(lambda self: self.lease is None)
    @rule()
    def claim_poll(self) -> None:
        """Callbacks are overdue: the worker claims the job to ask the provider about it."""
        job = self.current()
        if job.status in (JobStatus.QUEUED, JobStatus.DREAMING):
            self.lease = job

    @precondition(lambda self: isinstance(self.lease, Job))
    @rule(state=st.sampled_from(STATES), reason=st.sampled_from(REASONS))
    def poll_answer(self, state: str, reason: str | None) -> None:
        """The provider's answer about the generation the claimed job had, applied to the job
        as it is now (worker/poll.py refresh_from_provider); callbacks may have moved it."""
        claimed = self.lease
        assert isinstance(claimed, Job) and claimed.luma_generation_id is not None
        self.lease = None
        before, count = self.current(), len(self.history())
        generation = self.news(claimed.luma_generation_id, state, reason)
        apply_generation(self.repository, before, generation, grace_seconds=GRACE_SECONDS)
        self.moved_only_its_own(before, claimed.luma_generation_id, len(self.history()) > count)

    @precondition(lambda self: self.lease is None)
    @rule()
    def claim_processing(self) -> None:
        if self.current().status is JobStatus.PROCESSING:
            self.lease = deque(RUN)

    @precondition(lambda self: isinstance(self.lease, deque))
    @rule()
    def processing_step(self) -> None:
        """One step of a processing run; a run stops when the job left processing."""
        run = self.lease
        assert isinstance(run, deque)
        step = run.popleft()
        if step == "done":
            self.lease = None
            move = moves.completed(
                total_frames=60,
                keys={"gif": f"jobs/{self.job_id}/animation.gif"},
                frame_data={},
                frame_ms=1,
                total_ms=2,
            )
            self.repository.jobs.apply(self.job_id, move)
            return
        progress, message = PROCESSING_STEPS[step]
        if self.repository.jobs.report_progress(self.job_id, JobStatus.PROCESSING, progress, message) is None:
            self.lease = None  # canceled meanwhile: the run stops
        elif step == "download":  # the paid clip is kept, for a retry
            key = f"jobs/{self.job_id}/source.mp4"
            self.repository.jobs.update_fields(self.job_id, JobStatus.PROCESSING, {"source_object_key": key})

    @precondition(lambda self: isinstance(self.lease, deque))
    @rule(code=st.sampled_from([ErrorCode.VIDEO_UNREADABLE, ErrorCode.DOWNLOAD_FAILED]), die=RARELY)
    def processing_fails(self, code: ErrorCode, die: int) -> None:
        if die:
            return
        self.lease = None
        self.repository.jobs.apply(self.job_id, moves.failed(code, "The clip could not be read."))

    @precondition(lambda self: self.lease is None)
    @rule(die=RARELY)
    def deadline(self, die: int) -> None:
        """The claim loop finds the job past its deadline."""
        if die:
            return
        self.repository.jobs.apply(self.job_id, moves.timed_out(GRACE_SECONDS))

    # --- the user ----------------------------------------------------------------------------

    @rule(read=reads, fresh=st.booleans(), die=RARELY)
    def cancel(self, read: Job, fresh: bool, die: int) -> None:
        """POST /v1/jobs/{id}/cancel, handled from the job as read now or earlier."""
        read = self.current() if fresh else read
        if die or read.is_terminal:
            return  # 409
        count = len(self.history())
        result = cancel_job(self.repository, read)
        assert result.changed == (len(self.history()) > count)
        if result.changed:
            assert result.job.status is JobStatus.CANCELED and result.job.error_code == "CANCELED"
        else:
            assert result.job.is_terminal, "a cancel is refused only once the job has finished"

    @rule(read=reads, fresh=st.booleans())
    def retry(self, read: Job, fresh: bool) -> None:
        """POST /v1/jobs/{id}/retry, handled from the job as read now or earlier."""
        read = self.current() if fresh else read
        if read.status is not JobStatus.FAILED:
            return  # 409
        try:
            retried = retry_job(self.repository, read)
        except NoPaidClip:
            assert not read.source_object_key
            return
        if retried is not None:
            self.retried += 1
            assert retried.status is JobStatus.PROCESSING and retried.error_code is None

    # --- what must hold after every step ---------------------------------------------------

    @invariant()
    def legal_state(self) -> None:
        job = self.current()
        low, high = PROGRESS_BOUNDS[job.status]
        assert low <= job.progress <= high, (job.status, job.progress)
        if job.status in (JobStatus.QUEUED, JobStatus.DREAMING):
            assert job.luma_generation_id is not None, "the provider has it, under an id we know"
        if job.status is JobStatus.COMPLETED:
            assert job.completed_at is not None and job.frame_storage_urls and job.error_code is None
        elif job.status is JobStatus.FAILED:
            assert job.error_code not in (None, ErrorCode.CANCELED.value) and job.completed_at is None
        elif job.status is JobStatus.CANCELED:
            assert job.error_code == ErrorCode.CANCELED.value
        else:
            assert job.error_code is None and job.completed_at is None
        if job.status in TERMINAL_STATES:
            assert job.next_run_at is None and job.lease_owner is None, "a finished job is off the queue"
        assert 0 <= job.resubmits <= MAX_RESUBMITS

    @invariant()
    def never_backwards(self) -> None:
        history = self.history()
        job = self.current()
        assert history[0] == (JobStatus.PENDING, 0)
        assert history[-1] == (job.status, job.progress), "the last event is the job as it is"
        retries = resubmits = 0
        floor = 0  # the progress this attempt has reached
        for (before, shown), (after, progress) in itertools.pairwise(history):
            if after is JobStatus.PENDING:
                assert before in RESUBMIT_SOURCES, f"{before.value} → pending"
                resubmits += 1
                floor = 0
            elif before is JobStatus.FAILED and after is JobStatus.PROCESSING:
                retries += 1
                floor = 0
            elif before is after:
                assert before not in TERMINAL_STATES, f"a {before.value} job changed again"
            else:
                assert can_move(before, after), f"{before.value} → {after.value}"
            assert progress >= floor, f"progress {shown} → {progress} ({before.value} → {after.value})"
            floor = progress
        assert retries == self.retried, "a move back to processing that no retry asked for"
        assert resubmits == job.resubmits <= MAX_RESUBMITS, "resubmits"


# --- the runs --------------------------------------------------------------------------------


def memory_machine() -> JobLife:
    job = memory_job()
    # MemoryJobs has the methods of Store that the machine and the use cases call.
    return JobLife(cast(Store, MemoryJobs(job)), job)


def test_any_order_of_news_and_requests_keeps_a_job_legal_and_never_backwards() -> None:
    run_state_machine_as_test(
        memory_machine,  # type: ignore[arg-type]  # a factory, as hypothesis documents; typed as the class
        settings=settings(
            max_examples=400,
            stateful_step_count=100,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def new_job_life(repository: Store) -> Callable[[], JobLife]:
    spec = build_spec(prompt="a knight swinging a sword", width=16, height=16, color_count=4, fps=12)

    def machine() -> JobLife:
        job = repository.jobs.create(spec, user_id="alice", provider="emulator")  # a new job per example
        return JobLife(repository, job)

    return machine


def test_the_in_memory_store_is_the_repository_s_compare_and_set(repository: Store) -> None:
    """The memory run stands for the repository's: the same moves give the same jobs and events."""
    created = repository.jobs.create(
        build_spec(prompt="a knight swinging a sword", width=16, height=16, color_count=4, fps=12),
        user_id="alice",
        provider="emulator",
    )
    memory = MemoryJobs(replace(memory_job(), id=created.id))
    now = utcnow()
    later = now + timedelta(seconds=GRACE_SECONDS)
    sequence = [
        moves.submitted("gen-1", now=now, check_at=later),
        moves.submitted("gen-2", now=now, check_at=later),  # refused: no longer pending
        # News of a generation that is not the job's own: refused.
        moves.dreaming(check_at=later, generation_id="gen-2"),
        moves.dreaming(check_at=later, generation_id="gen-1"),
        failed(ErrorCode.TIMEOUT, "late"),
        moves.retried(now),
        moves.completed(total_frames=1, keys={"gif": "k"}, frame_data={}, frame_ms=1, total_ms=2),
        failed(ErrorCode.TIMEOUT, "too late"),  # refused: completed stays completed
    ]
    for move in sequence:
        stored, kept = repository.jobs.apply(created.id, move), memory.apply(created.id, move)
        assert (stored is None) == (kept is None), move
        if stored is not None and kept is not None:
            for name in ("status", "progress", "progress_message", "luma_generation_id", "error_code"):
                assert getattr(stored, name) == getattr(kept, name), name
            assert (stored.completed_at is None) == (kept.completed_at is None)
            assert (stored.next_run_at is None) == (kept.next_run_at is None)
    history = [(e.status, e.progress) for e in repository.events.after(job_id=created.id)]
    assert history == [(e.status, e.progress) for e in memory.log]
    assert history[-1] == (JobStatus.COMPLETED, 100)
