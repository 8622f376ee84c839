"""The wiring's one policy of its own: how the render pool's processes are scheduled."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pixelmotion.bootstrap import make_executor
from pixelmotion.config import load_settings


def _policy_and_nice() -> tuple[int, int]:
    return os.sched_getscheduler(0), os.nice(0)


@pytest.mark.skipif(sys.platform != "linux", reason="SCHED_BATCH is Linux's")
def test_pool_processes_run_as_batch_at_the_services_own_priority(tmp_path: Path) -> None:
    """Batch keeps a render's wake-ups from preempting the API; the same nice as the service
    keeps a CPU-heavy neighbour on the machine from starving the render (a niced pool took
    5 s for a 0.5 s re-render beside ``stress --cpu 2``)."""
    executor = make_executor(load_settings({"PIXELMOTION_DATA_DIR": str(tmp_path)}))
    try:
        policy, nice = executor.submit(_policy_and_nice).result(timeout=60)
    finally:
        executor.shutdown()
    assert policy == os.SCHED_BATCH
    assert nice == os.nice(0)
