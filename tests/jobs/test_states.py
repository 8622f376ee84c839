from itertools import pairwise

from pixelmotion.jobs.states import ACTIVE_STATES, PROGRESS, TERMINAL_STATES, JobStatus, can_move


def test_the_happy_path_is_allowed_step_by_step() -> None:
    path = [
        JobStatus.PENDING,
        JobStatus.QUEUED,
        JobStatus.DREAMING,
        JobStatus.PROCESSING,
        JobStatus.COMPLETED,
    ]
    for current, target in pairwise(path):
        assert can_move(current, target), (current, target)


def test_no_state_moves_backwards() -> None:
    assert not can_move(JobStatus.DREAMING, JobStatus.QUEUED)
    assert not can_move(JobStatus.PROCESSING, JobStatus.DREAMING)
    assert not can_move(JobStatus.COMPLETED, JobStatus.PROCESSING)


def test_terminal_states_go_nowhere() -> None:
    for terminal in TERMINAL_STATES:
        for target in JobStatus:
            assert not can_move(terminal, target), (terminal, target)


def test_any_active_state_can_fail_or_be_canceled() -> None:
    for state in ACTIVE_STATES:
        assert can_move(state, JobStatus.FAILED)
        assert can_move(state, JobStatus.CANCELED)


def test_progress_rises_along_the_path() -> None:
    values = [
        PROGRESS[s] for s in (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.DREAMING, JobStatus.PROCESSING)
    ]
    assert values == sorted(values)
    assert values[0] == 0 and PROGRESS[JobStatus.COMPLETED] == 100
