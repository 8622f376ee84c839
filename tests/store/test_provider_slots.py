"""The provider account's caps as the database counts them, on SQLite and PostgreSQL:
reservations, the claim's gate for jobs not yet sent, and the queue position."""

from __future__ import annotations

import threading
from datetime import timedelta

from pixelmotion.jobs.caps import ProviderCaps
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.moves import Move
from pixelmotion.jobs.states import JobStatus
from pixelmotion.store import Store, utcnow
from tests.store.test_repository import spec

LEASE = 30.0


def pending_jobs(repository: Store, count: int, **overrides: object) -> list[Job]:
    return [
        repository.jobs.create(spec(**overrides), user_id=f"user{i % 3}", provider="luma")
        for i in range(count)
    ]


def test_at_most_max_in_flight_creates_are_reserved(repository: Store) -> None:
    jobs = pending_jobs(repository, 4)
    caps = ProviderCaps(max_in_flight=2)
    assert [repository.queue.reserve_provider_slot(job.id, caps) for job in jobs] == [
        None,
        None,
        "in_flight",
        "in_flight",
    ]
    # A reserved create that became a generation still counts, until it finishes.
    queued = Move(JobStatus.QUEUED, frozenset({JobStatus.PENDING}), {"luma_generation_id": "g-0"})
    assert repository.jobs.apply(jobs[0].id, queued) is not None
    assert repository.queue.reserve_provider_slot(jobs[2].id, caps) == "in_flight"
    processing = Move(JobStatus.PROCESSING, frozenset({JobStatus.QUEUED}))
    assert repository.jobs.apply(jobs[0].id, processing) is not None
    assert repository.queue.reserve_provider_slot(jobs[2].id, caps) is None
    reserved = repository.jobs.get(jobs[2].id)
    assert reserved is not None and reserved.submitted_at is not None


def test_creates_per_minute_are_counted_over_a_sliding_minute(repository: Store) -> None:
    jobs = pending_jobs(repository, 3)
    caps = ProviderCaps(creates_per_minute=2)
    now = utcnow()
    assert repository.queue.reserve_provider_slot(jobs[0].id, caps, now=now - timedelta(seconds=61)) is None
    assert repository.queue.reserve_provider_slot(jobs[1].id, caps, now=now - timedelta(seconds=30)) is None
    assert repository.queue.reserve_provider_slot(jobs[2].id, caps, now=now) is None  # the first fell out
    later = pending_jobs(repository, 1)[0]
    assert repository.queue.reserve_provider_slot(later.id, caps, now=now) == "per_minute"
    assert repository.queue.oldest_send_since(now - timedelta(minutes=1)) == now - timedelta(seconds=30)


def test_the_daily_budget_counts_the_days_estimated_spend(repository: Store) -> None:
    # ray-2 540p 16:9 5 s costs about $0.40: a $1 budget takes two, not three; ray-flash-2 $0.14.
    jobs = pending_jobs(repository, 3, resolution="540p", aspect_ratio="16:9")
    caps = ProviderCaps(daily_budget_usd=1.0)
    assert [repository.queue.reserve_provider_slot(job.id, caps) for job in jobs] == [
        None,
        None,
        "daily_budget",
    ]
    cheap = pending_jobs(repository, 1, resolution="540p", aspect_ratio="16:9", model="ray-flash-2")[0]
    assert repository.queue.reserve_provider_slot(cheap.id, caps) is None
    usage = repository.queue.provider_usage()
    assert usage.in_flight == 3 and usage.sent_last_minute == 3
    assert 0.9 < usage.spent_today_usd <= 1.0


def test_a_canceled_job_reserves_nothing(repository: Store) -> None:
    job = pending_jobs(repository, 1)[0]
    assert repository.jobs.apply(job.id, Move(JobStatus.CANCELED, frozenset({JobStatus.PENDING}))) is not None
    assert repository.queue.reserve_provider_slot(job.id, ProviderCaps(max_in_flight=5)) == "not_pending"
    assert repository.queue.provider_usage().in_flight == 0


def test_reservations_racing_from_many_connections_never_pass_the_cap(repository: Store) -> None:
    jobs = pending_jobs(repository, 24)
    caps = ProviderCaps(max_in_flight=5)
    results: list[str | None] = []
    start = threading.Barrier(6)

    def reserve(share: list[Job]) -> None:
        start.wait()  # each thread has its own pooled connection: real concurrent transactions
        for job in share:
            results.append(repository.queue.reserve_provider_slot(job.id, caps))

    threads = [threading.Thread(target=reserve, args=(jobs[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 24
    assert results.count(None) == 5
    assert repository.queue.provider_usage().in_flight == 5


def test_the_claim_passes_over_unsent_jobs_while_the_caps_are_full(repository: Store) -> None:
    caps = ProviderCaps(max_in_flight=1)
    sent, _waiting = pending_jobs(repository, 2)
    assert repository.queue.reserve_provider_slot(sent.id, caps) is None
    claimed = repository.queue.claim("w1", lease_seconds=LEASE, caps=caps)
    assert claimed is not None and claimed.id == sent.id  # a reserved job goes on (a takeover)
    repository.queue.release(sent.id, "w1")
    repository.jobs.apply(sent.id, Move(JobStatus.QUEUED, frozenset({JobStatus.PENDING})))
    repository.queue.schedule(sent.id, JobStatus.QUEUED, utcnow() + timedelta(hours=1))
    assert repository.queue.claim("w1", lease_seconds=LEASE, caps=caps) is None  # waiting keeps waiting
    assert repository.queue.claim("w1", lease_seconds=LEASE, caps=None) is not None  # no caps: it goes


def test_the_claim_takes_no_more_unsent_jobs_than_there_is_room_for(repository: Store) -> None:
    """With one slot free, the first claim takes the first job in line; until its worker lets
    it go, a second claim may not take the next one (which could then reserve the slot first
    and pass it)."""
    caps = ProviderCaps(max_in_flight=1)
    first, second = pending_jobs(repository, 2)
    claimed = repository.queue.claim("w1", lease_seconds=LEASE, caps=caps)
    assert claimed is not None and claimed.id == first.id
    assert repository.queue.claim("w2", lease_seconds=LEASE, caps=caps) is None
    later = utcnow() + timedelta(seconds=2 * LEASE)  # a dead worker's lease holds no slot
    taken_over = repository.queue.claim("w2", lease_seconds=LEASE, caps=caps, now=later)
    assert taken_over is not None and taken_over.id == first.id
    repository.queue.release(first.id, "w2")
    assert repository.queue.reserve_provider_slot(first.id, caps) is None
    assert repository.queue.claim("w2", lease_seconds=LEASE, caps=caps) is not None  # a takeover of `first`
    repository.queue.release(first.id, "w2")
    assert repository.queue.queue_position(second) == 1


def test_the_claim_sends_nothing_new_while_told_not_to(repository: Store) -> None:
    job = pending_jobs(repository, 1)[0]
    assert repository.queue.claim("w1", lease_seconds=LEASE, send_new=False) is None
    claimed = repository.queue.claim("w1", lease_seconds=LEASE, send_new=True)
    assert claimed is not None and claimed.id == job.id


def test_queue_position_counts_every_users_unsent_jobs_ahead(repository: Store) -> None:
    jobs = pending_jobs(repository, 4)  # users 0, 1, 2, 0
    assert [repository.queue.queue_position(job) for job in jobs] == [1, 2, 3, 4]
    assert repository.queue.reserve_provider_slot(jobs[0].id, ProviderCaps()) is None
    assert repository.queue.queue_position(jobs[3]) == 3
    sent = repository.jobs.get(jobs[0].id)
    assert sent is not None and repository.queue.queue_position(sent) is None
