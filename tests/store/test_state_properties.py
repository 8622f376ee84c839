"""The job state machine's property test (``tests/jobs/test_state_properties.py``), run over
the real ``Store`` on a real SQLite file and the real PostgreSQL: the compare-and-set, the
events and the named moves as the database applies them. Here, not in the fast tier: each
step is a few transactions."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from pixelmotion.store import Store
from tests.jobs.test_state_properties import new_job_life


def test_the_same_holds_through_the_repository(repository: Store) -> None:
    """On a real SQLite file and the real PostgreSQL (the shared ``repository`` fixture)."""
    run_state_machine_as_test(
        new_job_life(repository),  # type: ignore[arg-type]  # a factory: hypothesis accepts one
        settings=settings(
            max_examples=100,
            stateful_step_count=100,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
