"""Running ``pixelmotion`` commands as real OS processes for the tests: the environment
they get, starting and always stopping them, waiting until they answer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.running import CLIP_CACHE
from tests.server import wait_for

PIXELMOTION = [sys.executable, "-m", "pixelmotion.cli"]


# The emulator's key in these processes (a real run generates one per data directory).
EMULATOR_KEY = "test-emulator-key"


def env_for(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """This environment without any PIXELMOTION_* of the caller's, plus the test's settings
    (``extra`` names them without the prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXELMOTION_")}
    env.update(
        PIXELMOTION_DATA_DIR=str(data_dir),
        PIXELMOTION_PORT=str(port),
        PIXELMOTION_EMULATOR_DREAM_SECONDS="0.5",
    )
    env["PIXELMOTION_EMULATOR_CLIP_DIR"] = str(CLIP_CACHE)
    env["PIXELMOTION_EMULATOR_API_KEY"] = EMULATOR_KEY
    env["PIXELMOTION_EMULATOR_PROMPT_FAULTS"] = "1"  # tests steer it with [[fault:...]]
    env.update({f"PIXELMOTION_{k}": v for k, v in extra.items()})
    return env


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``pixelmotion ARGS`` in its own process, its output in ``log``; stopped on exit (a
    process the test killed already is only reaped)."""
    with open(log, "wb") as handle:
        process = subprocess.Popen([*PIXELMOTION, *args], env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    def up() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout=60, what="the server to answer /healthz", interval=0.1)


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` now (Linux: read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _stat(int(entry.name))[1:2] == [str(pid)]:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    state = _stat(pid)[:1]
    return bool(state) and state != ["Z"]


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: state, ppid, ...; [] if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text.rpartition(")")[2].split()
