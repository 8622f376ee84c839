"""Re-renders over real HTTP: a new job from a finished job's paid clip, with no provider
call, in under 2 s, with its own events; another user's job is as unknown as none."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from pixelmotion.objects.keys import source_clip_key
from pixelmotion.worker.retention import retention_pass
from tests.running import Running

BASE = {
    "prompt": "a slime bouncing",
    "width": 64,
    "height": 64,
    "colorCount": 8,
    "fps": 12,
    "resolution": "540p",
}


def created_generations(app: Running) -> int:
    body: dict[str, Any] = httpx.get(
        f"{app.settings.emulator_base_url}/_stats",
        headers={"Authorization": f"Bearer {app.settings.emulator_api_key}"},
        timeout=10,
    ).json()
    return int(body["created"])


@pytest.mark.alone  # bounds the re-render's wall-clock time
def test_a_rerender_pays_nothing_and_takes_under_two_seconds(app: Running) -> None:
    with app.client() as client:
        parent_id = client.post("/v1/jobs", json=BASE).json()["jobId"]
        parent = app.wait_for_status(client, parent_id, {"completed", "failed"})
        assert parent["status"] == "completed", parent
        before = created_generations(app)
        started = time.monotonic()
        answer = client.post(
            f"/v1/jobs/{parent_id}/renders", json={"width": 32, "palette": "pico8", "fps": 24}
        )
        assert answer.status_code == 202, answer.text
        child_id = answer.json()["jobId"]
        child = app.wait_for_status(client, child_id, {"completed", "failed"}, timeout=10)
        elapsed = time.monotonic() - started
        assert child["status"] == "completed", child
        assert elapsed < 2.0, f"re-render took {elapsed:.2f} s"
        assert created_generations(app) == before
        assert child["parentJobId"] == parent_id and child["estimatedCostUsd"] == 0.0
        assert (child["width"], child["height"], child["fps"]) == (32, 64, 24)  # height kept
        assert child["palette"] is not None and child["colorCount"] == len(child["palette"])
        assert child["prompt"] == parent["prompt"] and child["dither"] == parent["dither"]
        assert "sheet" in child["outputs"] and "aseprite" in child["outputs"]
        statuses = [e.status.value for e in app.services.repository.events.after(job_id=child_id)]
        assert statuses[0] == "processing" and statuses[-1] == "completed"
    # The child keeps its own copy of the clip: retention of the parent leaves it whole.
    row = app.services.repository.jobs.get(child_id)
    assert row is not None and row.source_object_key == source_clip_key(child_id)
    assert app.services.store.exists(source_clip_key(child_id))


def test_rerendering_another_users_job_is_404_and_a_job_without_clip_409(app: Running) -> None:
    with app.client() as client:
        failing = {**BASE, "prompt": "a slow turtle [[fault:fail_generation=Contains blacklisted words]]"}
        failed_id = client.post("/v1/jobs", json=failing).json()["jobId"]
        assert app.wait_for_status(client, failed_id, {"completed", "failed"})["status"] == "failed"
        refused = client.post(f"/v1/jobs/{failed_id}/renders", json={})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "NO_PAID_CLIP"
    with app.client("bob") as bob:
        answer = bob.post(f"/v1/jobs/{failed_id}/renders", json={"width": 32})
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "JOB_NOT_FOUND"


def test_retention_of_the_parent_leaves_a_kept_childs_clip(sqlite_app: Running) -> None:
    app = sqlite_app
    with app.client() as client:
        parent_id = client.post("/v1/jobs", json={**BASE, "width": 16, "height": 16}).json()["jobId"]
        assert app.wait_for_status(client, parent_id, {"completed", "failed"})["status"] == "completed"
        child_id = client.post(f"/v1/jobs/{parent_id}/renders", json={"width": 24}).json()["jobId"]
        assert app.wait_for_status(client, child_id, {"completed", "failed"})["status"] == "completed"
        parent, child = (app.services.repository.jobs.get(i) for i in (parent_id, child_id))
        assert parent is not None and child is not None and parent.updated_at < child.updated_at
        # Retention 30 days, run when the parent is past it and the child is not.
        cutoff = parent.updated_at + (child.updated_at - parent.updated_at) / 2
        services = SimpleNamespace(
            settings=replace(app.settings, retention_days=30.0),
            repository=app.services.repository,
            store=app.services.store,
        )
        assert retention_pass(services, now=cutoff + timedelta(days=30)).jobs == 1  # type: ignore[arg-type]
        assert not app.services.store.exists(source_clip_key(parent_id))
        assert app.services.store.exists(source_clip_key(child_id))
        assert client.post(f"/v1/jobs/{parent_id}/renders", json={}).status_code == 409
        grandchild = client.post(f"/v1/jobs/{child_id}/renders", json={"width": 16})
        assert grandchild.status_code == 202, grandchild.text
        done = app.wait_for_status(client, grandchild.json()["jobId"], {"completed", "failed"})
        assert done["status"] == "completed" and done["parentJobId"] == child_id
