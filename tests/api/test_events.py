"""Live job events over real HTTP: every state in order, exact replay after a disconnect."""

from __future__ import annotations

import time

import httpx

from tests.api.conftest import Running
from tests.sse import Event, read_events

REQUEST = {
    "prompt": "an orange cat dancing",
    "width": 32,
    "height": 32,
    "colorCount": 8,
    "fps": 12,
    "resolution": "540p",
}


def collect(
    client: httpx.Client, path: str, headers: dict[str, str] | None = None, stop_after: int | None = None
) -> list[Event]:
    events: list[Event] = []
    deadline = time.monotonic() + 90
    with client.stream("GET", path, headers=headers or {}, timeout=60) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for item in read_events(response):
            if isinstance(item, Event):
                events.append(item)
                if stop_after is not None and len(events) >= stop_after:
                    break
            # Keep-alives would hold a stream that never ends open forever: fail instead.
            assert time.monotonic() < deadline, (
                f"stream still open after 90 s; got {[e.data['status'] for e in events]}"
            )
    return events


ORDER = ["pending", "queued", "dreaming", "processing", "completed"]


def test_a_stream_shows_every_state_in_order_then_ends(app: Running) -> None:
    with app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        # Opened at once: first the current state (the worker may have moved the job
        # already), then every later change, in order, to the end.
        live = collect(client, f"/v1/jobs/{job_id}/events")
        seen = list(dict.fromkeys(e.data["status"] for e in live))
        assert seen == ORDER[ORDER.index(seen[0]) :]
        # From the job's beginning (Last-Event-ID 0): every one of the five states.
        events = collect(client, f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "0"})
        statuses = list(dict.fromkeys(e.data["status"] for e in events))
        assert statuses == ORDER
        ids = [e.id for e in events]
        assert ids == sorted(ids) and len(set(ids[1:])) == len(ids) - 1
        assert all(e.event == "job" and e.data["jobId"] == job_id for e in events)
        final = events[-1].data
        assert final["status"] == "completed" and final["outputs"]["gif"].endswith("animation.gif")
        assert final == {**client.get(f"/v1/jobs/{job_id}").json(), "updatedAt": final["updatedAt"]}


def test_resuming_with_last_event_id_gets_exactly_the_missed_events(app: Running) -> None:
    with app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        first = collect(client, f"/v1/jobs/{job_id}/events", stop_after=2)  # snapshot + one change, then drop
        app.wait_for_status(client, job_id, {"completed"})
        rest = collect(client, f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": str(first[-1].id)})
        stored = [e.id for e in app.services.repository.events.after(job_id=job_id)]
        assert [e.id for e in rest] == [i for i in stored if i > first[-1].id]
        assert rest[-1].data["status"] == "completed"
        # Having seen the end, a reconnect is told to stop.
        done = client.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": str(rest[-1].id)})
        assert done.status_code == 204


def test_a_browser_can_authenticate_with_access_token(sqlite_app: Running) -> None:
    with sqlite_app.client() as alice:
        job_id = alice.post("/v1/jobs", json=REQUEST).json()["jobId"]
        sqlite_app.wait_for_status(alice, job_id, {"completed"})
    with sqlite_app.client(None) as anonymous:
        token = sqlite_app.token("alice")
        events = collect(anonymous, f"/v1/jobs/{job_id}/events?access_token={token}")
        assert events[0].data["status"] == "completed" and len(events) == 1
        assert anonymous.get(f"/v1/jobs/{job_id}/events").status_code == 401
        other = sqlite_app.token("bob")
        assert anonymous.get(f"/v1/jobs/{job_id}/events?access_token={other}").status_code == 404


def test_a_bad_last_event_id_is_a_400(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        response = client.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "yesterday"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "INVALID_LAST_EVENT_ID"


def test_the_user_stream_carries_every_job_of_the_caller_only(sqlite_app: Running) -> None:
    with sqlite_app.client("alice") as alice, sqlite_app.client("bob") as bob:
        start = sqlite_app.services.repository.events.last_id()
        mine = {alice.post("/v1/jobs", json=REQUEST).json()["jobId"] for _ in range(2)}
        bob.post("/v1/jobs", json=REQUEST)
        for job_id in mine:
            sqlite_app.wait_for_status(alice, job_id, {"completed"})
        completed: set[str] = set()
        events: list[Event] = []
        with alice.stream("GET", "/v1/events", headers={"Last-Event-ID": str(start)}, timeout=60) as response:
            for item in read_events(response):
                if isinstance(item, Event):
                    events.append(item)
                    if item.data["status"] == "completed":
                        completed.add(item.data["jobId"])
                    if completed == mine:
                        break
        assert {e.data["jobId"] for e in events} == mine
        assert [e.id for e in events] == sorted(e.id for e in events)
