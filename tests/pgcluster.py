"""A throwaway PostgreSQL cluster a test (or the chaos bench) may stop, start and restart:
``initdb`` and ``pg_ctl`` from /usr/lib/postgresql/*/bin, on a free loopback port, in a
directory of its own, removed afterwards. PostgreSQL refuses to run as root, so as root the
commands run as the ``postgres`` user (``runuser``), in a directory that user owns.

    with throwaway_postgres() as cluster:
        engine = create_engine(cluster.url)
        cluster.stop()      # connections are refused now
        cluster.start()     # and accepted again
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

BIN_GLOB = "/usr/lib/postgresql/*/bin"
RUN_AS = "postgres"
# Durability off: a throwaway cluster starts in about a second and writes little.
FAST_SETTINGS = ("fsync=off", "full_page_writes=off", "synchronous_commit=off", "max_connections=200")


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    found = [path for path in found if (path / "pg_ctl").exists() and (path / "initdb").exists()]
    return found[-1] if found else None


def unavailable_reason() -> str | None:
    """Why no throwaway cluster can run here (None: it can)."""
    if postgres_bin() is None:
        return f"no PostgreSQL server binaries under {BIN_GLOB}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and there is no {RUN_AS!r} user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    def __init__(self, directory: Path, port: int) -> None:
        bin_dir = postgres_bin()
        assert bin_dir is not None, unavailable_reason()
        self.bin = bin_dir
        self.directory = directory
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        self.port = port

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", RUN_AS, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stderr.strip()}\n{tail}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        options = " ".join(
            [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-k {self.directory}"]
            + [f"-c {setting}" for setting in FAST_SETTINGS]
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop (``fast``: disconnect clients, as a restart does; ``immediate``: a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def throwaway_postgres() -> Iterator[Cluster]:
    """A new cluster, started; stopped (immediately) and deleted afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="pm-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        user = pwd.getpwnam(RUN_AS)
        os.chown(directory, user.pw_uid, user.pw_gid)
    os.chmod(directory, 0o700)
    cluster = Cluster(directory, _free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            with suppress(RuntimeError, subprocess.TimeoutExpired):
                cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
