"""What the benchmarks share: percentiles, free ports, the machine line, a throwaway
PostgreSQL schema, and starting ``pixelmotion serve`` in a subprocess.

Imported as ``_common`` by the scripts in this directory (``python bench/x.py`` puts
``bench/`` first on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from pixelmotion.store import create_engine
from pixelmotion.store.tables import video_generation_jobs as jobs_t

HOST = "127.0.0.1"
AUDIENCE = "authenticated"
POSTGRES_URL = os.environ.get(
    "PIXELMOTION_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PIXELMOTION = [sys.executable, "-m", "pixelmotion.cli"]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, Python {platform.python_version()}"


def load() -> str:
    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by the process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(pids: list[int]) -> float:
    """CPU seconds the processes used so far (one that ended meanwhile counts nothing)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += process_cpu_seconds(pid)
    return total


# ---------------------------------------------------------------- PostgreSQL


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process on this machine (backends included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
    return found


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextmanager
def postgres_schema(prefix: str = "pm_bench") -> Iterator[str]:
    """A database URL whose connections live in a fresh schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# ---------------------------------------------------------------- pixelmotion serve


def server_env(
    data_dir: Path,
    port: int,
    database_url: str,
    jwt_secret: str,
    *,
    secret_key: str | None = None,
    **settings: str,
) -> dict[str, str]:
    """The environment of a ``pixelmotion`` process: this one's, less every PIXELMOTION_*
    variable, plus the given settings (``USER_MAX_ACTIVE_JOBS="100"`` → PIXELMOTION_…)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELMOTION_")}
    env.update(
        PIXELMOTION_DATA_DIR=str(data_dir),
        PIXELMOTION_PORT=str(port),
        PIXELMOTION_DATABASE_URL=database_url,
        PIXELMOTION_JWT_SECRET=jwt_secret,
        PIXELMOTION_SECRET_KEY=secret_key or secrets.token_hex(16),
        PIXELMOTION_PROVIDER="emulator",
    )
    env.update({f"PIXELMOTION_{name.upper()}": value for name, value in settings.items()})
    return env


def wait_healthy(
    port: int,
    alive: Callable[[], bool],
    what: str,
    timeout: float = 60,
    accept: Callable[[int], bool] = lambda status: status < 500,
) -> None:
    """Wait until ``GET /healthz`` on ``port`` answers a status ``accept`` takes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what} exited before answering")
        try:
            if accept(httpx.get(f"http://{HOST}:{port}/healthz", timeout=2).status_code):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer /healthz within {timeout}s")


def stop(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it does not exit within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running(
    command: list[str],
    env: dict[str, str],
    log: Path,
    port: int,
    *,
    what: str = "pixelmotion serve",
    accept: Callable[[int], bool] = lambda status: status < 500,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` (output to ``log``), wait until its ``/healthz`` answers on ``port``,
    stop it afterwards. If it does not come up, the end of its log goes to stderr."""
    with open(log, "ab") as handle:
        process = subprocess.Popen(
            command, env=env, stdout=handle, stderr=subprocess.STDOUT, preexec_fn=preexec_fn
        )
    try:
        try:
            wait_healthy(port, lambda: process.poll() is None, what, accept=accept)
        except Exception:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise
        yield process
    finally:
        stop(process)


def serve(
    env: dict[str, str],
    log: Path,
    *,
    worker: bool = True,
    accept: Callable[[int], bool] = lambda status: status < 500,
    preexec_fn: Callable[[], None] | None = None,
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """``pixelmotion serve`` (``--no-worker`` unless ``worker``) with ``env``, as a user runs it."""
    command = [*PIXELMOTION, "serve", *([] if worker else ["--no-worker"])]
    return running(command, env, log, int(env["PIXELMOTION_PORT"]), accept=accept, preexec_fn=preexec_fn)


def list_generations(base: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every generation an emulator (or Luma) lists for this key, page by page."""
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = httpx.get(
            f"{base}/generations", params={"limit": 1000, "offset": offset}, headers=headers
        ).json()
        found.extend(page["generations"])
        if not page["has_more"]:
            return found
        offset += page["count"]


def insert_jobs(database_url: str, rows: list[dict[str, Any]]) -> None:
    """Bulk-insert job rows (``store.rows.new_job_row``), 2,000 a statement: a backlog in seconds."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            for start in range(0, len(rows), 2000):
                conn.execute(jobs_t.insert(), rows[start : start + 2000])
    finally:
        engine.dispose()
