"""The command line, run as users run it: real processes, real HTTP on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from pixelmotion.config import load_settings
from pixelmotion.jobs.options import DITHERS, FITS, FPS_CHOICES
from pixelmotion.security import verify_token
from tests.databases import postgres_schema_url
from tests.processes import PIXELMOTION, env_for, running, wait_healthy
from tests.server import free_port, wait_for
from tests.sse import Event, read_events

REQUEST = {
    "prompt": "a purple dragon flying",
    "width": 32,
    "height": 32,
    "colorCount": 8,
    "fps": 12,
    "resolution": "540p",
}


def run_job(url: str, token: str) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {token}"}
    job_id = httpx.post(f"{url}/v1/jobs", json=REQUEST, headers=headers).json()["jobId"]

    def finished() -> dict[str, object] | None:
        body: dict[str, object] = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers).json()
        return body if body["status"] in ("completed", "failed") else None

    result: dict[str, object] = wait_for(finished, timeout=90, what="the job to finish", interval=0.1)
    return result


def test_token_prints_the_token_alone(tmp_path: Path) -> None:
    env = env_for(tmp_path, 8000)
    out = subprocess.run(
        [*PIXELMOTION, "token", "--user", "bob"], env=env, capture_output=True, text=True, check=True
    )
    token = out.stdout.strip()
    assert "\n" not in token
    settings = load_settings({k: v for k, v in env.items() if k.startswith("PIXELMOTION_")})
    assert verify_token(token, secret=settings.jwt_secret, audience=settings.jwt_audience).user_id == "bob"


def test_help_lists_every_command() -> None:
    out = subprocess.run([*PIXELMOTION, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("serve", "worker", "emulator", "migrate", "token", "convert", "render"):
        assert command in out


def test_generate_offers_the_request_choices_and_refuses_others() -> None:
    wide = {**os.environ, "COLUMNS": "250"}  # rich wraps the help to the terminal's width
    shown = subprocess.run(
        [*PIXELMOTION, "generate", "--help"], capture_output=True, text=True, check=True, env=wide
    )
    for choices in (FPS_CHOICES, DITHERS, FITS):
        assert "|".join(map(str, choices)) in shown.stdout
    refused = subprocess.run(
        [*PIXELMOTION, "generate", "a cat", "--fps", "13"], capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert "choose one of 12, 24, 30" in refused.stderr


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    subprocess.run([*PIXELMOTION, "migrate"], env=env_for(tmp_path, 8000), check=True, capture_output=True)
    assert (tmp_path / "pixelmotion.db").exists()


def test_serve_runs_a_job_end_to_end_and_never_logs_a_token(tmp_path: Path) -> None:
    port = free_port()
    env = env_for(tmp_path, port)
    log = tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    with running(["serve"], env, log) as process:
        wait_healthy(url, process, log)
        token = subprocess.run(
            [*PIXELMOTION, "token", "--user", "alice"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        job = run_job(url, token)
        assert job["status"] == "completed", job
        httpx.post(f"{url}/v1/callbacks/luma/{job['jobId']}?token=a-secret-guess", json={})
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert access and all(line["request_id"] for line in access)  # JSON lines, each with its request
    assert any(line["job_id"] for line in lines)  # the worker's lines name their job
    assert "/v1/callbacks/luma/" in text  # the emulator's callbacks were logged...
    assert "token=REDACTED" in text
    assert "a-secret-guess" not in text  # ...without their tokens
    secret = (tmp_path / "secret_key").read_text().strip()
    assert secret not in text


def stream_statuses(url: str, token: str) -> list[str]:
    """Create a job and follow it over SSE to the end; the statuses seen, in order.

    From the job's first event (Last-Event-ID 0), not from a snapshot: a worker may move the
    job on before the stream opens, and a snapshot then starts at the job's state of the
    moment (``queued``), never showing ``pending``."""
    headers = {"Authorization": f"Bearer {token}"}
    job_id = httpx.post(f"{url}/v1/jobs", json=REQUEST, headers=headers).json()["jobId"]
    statuses: list[str] = []
    deadline = time.monotonic() + 120
    stream_headers = {**headers, "Last-Event-ID": "0"}
    with httpx.stream(
        "GET", f"{url}/v1/jobs/{job_id}/events", headers=stream_headers, timeout=90
    ) as response:
        for item in read_events(response):
            if isinstance(item, Event):
                statuses.append(item.data["status"])
            if time.monotonic() > deadline:  # keep-alives would otherwise wait forever
                job = httpx.get(f"{url}/v1/jobs/{job_id}", headers=headers).json()
                raise AssertionError(f"stream still open after 120 s; saw {statuses}; the job is now {job}")
    return list(dict.fromkeys(statuses))


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_api_and_workers_in_separate_processes(tmp_path: Path, database: str) -> None:
    """The scaled-out shape: `serve --no-worker` and two `worker` processes share one database;
    the worker's changes reach the API process's event streams (NOTIFY, or the table scan)."""
    port = free_port()
    with contextlib.ExitStack() as stack:
        extra = {}
        if database == "postgres":
            extra["DATABASE_URL"] = stack.enter_context(postgres_schema_url())
        env = env_for(tmp_path, port, **extra)
        url = f"http://127.0.0.1:{port}"
        api = stack.enter_context(running(["serve", "--no-worker"], env, tmp_path / "api.log"))
        wait_healthy(url, api, tmp_path / "api.log")
        stack.enter_context(running(["worker"], env, tmp_path / "w1.log"))
        stack.enter_context(running(["worker"], env, tmp_path / "w2.log"))
        token = subprocess.run(
            [*PIXELMOTION, "token", "--user", "alice"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        assert stream_statuses(url, token) == ["pending", "queued", "dreaming", "processing", "completed"]
        assert run_job(url, token)["status"] == "completed"


def test_generate_against_a_server_downloads_the_results(tmp_path: Path) -> None:
    port = free_port()
    env = env_for(tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    with running(["serve"], env, tmp_path / "serve.log") as process:
        wait_healthy(url, process, tmp_path / "serve.log")
        token = subprocess.run(
            [*PIXELMOTION, "token", "--user", "carol"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        out = tmp_path / "out"
        result = subprocess.run(
            [
                *PIXELMOTION,
                "generate",
                "a teal bird flapping",
                "--size",
                "24x16",
                "--colors",
                "6",
                "--fps",
                "12",
                "-o",
                str(out),
                "--url",
                url,
                "--token",
                token,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert (
            (out / "animation.gif").is_file()
            and (out / "sheet.png").is_file()
            and (out / "frames.json").is_file()
        )
        assert "completed" in result.stderr
        listed = subprocess.run(
            [*PIXELMOTION, "jobs", "--url", url, "--token", token],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert "completed" in listed.stdout


def test_ctrl_c_leaves_the_job_running_and_says_how_to_resume(tmp_path: Path) -> None:
    import os
    import select
    import signal
    import time

    port = free_port()
    env = env_for(tmp_path, port, EMULATOR_DREAM_SECONDS="4")
    url = f"http://127.0.0.1:{port}"
    with running(["serve"], env, tmp_path / "serve.log") as process:
        wait_healthy(url, process, tmp_path / "serve.log")
        token = subprocess.run(
            [*PIXELMOTION, "token", "--user", "dave"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        generate = subprocess.Popen(
            [*PIXELMOTION, "generate", "a red kite", "--size", "16x16", "--url", url, "--token", token],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        headers = {"Authorization": f"Bearer {token}"}
        # Ctrl-C while it watches: once it has said the job started. Read from the pipe's fd
        # itself, as communicate() does, so that nothing sits in a buffer it would not see.
        assert generate.stderr is not None
        said = b""
        deadline = time.monotonic() + 60
        while b" started\n" not in said:
            ready, _, _ = select.select([generate.stderr], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"generate did not say the job started within 60 s: {said!r}"
            chunk = os.read(generate.stderr.fileno(), 4096)
            assert chunk, f"generate ended: {said!r}"
            said += chunk
        generate.send_signal(signal.SIGINT)
        out, rest = generate.communicate(timeout=30)
        stderr = said.decode() + rest
        assert generate.returncode == 130, stderr
        job_id = httpx.get(f"{url}/v1/jobs", headers=headers).json()["jobs"][0]["jobId"]
        assert f"job {job_id} started" in stderr
        assert f"pixelmotion wait {job_id}" in stderr, (stderr, out)
        resumed = subprocess.run(
            [*PIXELMOTION, "wait", job_id, "--url", url, "--token", token],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert "completed" in resumed.stderr


def test_generate_local_needs_no_server(tmp_path: Path) -> None:
    env = env_for(tmp_path, 8000)
    out = tmp_path / "out"
    result = subprocess.run(
        [
            *PIXELMOTION,
            "generate",
            "a green cactus",
            "--size",
            "16x16",
            "--colors",
            "4",
            "--local",
            "-o",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "animation.gif").is_file()


def test_serve_prints_a_token_only_to_a_terminal_or_on_loopback(tmp_path: Path) -> None:
    """Issue 17, finding 13: a server on a public address logging to a collector prints no
    30-day token, only how to get one."""
    from pixelmotion.cli import sign_in_lines
    from pixelmotion.config import load_settings
    from pixelmotion.security import verify_token

    def lines(host: str, interactive: bool) -> list[str]:
        settings = load_settings({"PIXELMOTION_DATA_DIR": str(tmp_path), "PIXELMOTION_HOST": host})
        return sign_in_lines(settings, interactive=interactive)

    collected = lines("0.0.0.0", interactive=False)
    assert collected == ["Get a sign-in token with: pixelmotion token --user USER"]
    assert not any("eyJ" in line for line in collected)
    for host, interactive in (("0.0.0.0", True), ("127.0.0.1", False), ("::1", False)):
        shown = lines(host, interactive)
        token = shown[-1].rsplit(" ", 1)[1]
        settings = load_settings({"PIXELMOTION_DATA_DIR": str(tmp_path)})
        assert (
            verify_token(token, secret=settings.jwt_secret, audience="authenticated").user_id == "local-user"
        )
