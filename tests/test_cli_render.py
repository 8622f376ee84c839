"""``generate`` with canvas options and ``render``, run as users run them: real processes
against a real server on loopback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pixelmotion.media.palettes import PRESETS
from tests.images import open_image
from tests.processes import PIXELMOTION, env_for, running, wait_healthy
from tests.server import free_port

FOUR = ["#000000", "#ff0000", "#00ff00", "#ffffff"]


@dataclass
class Server:
    url: str
    token: str
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.Popen[str]:
        command = [*PIXELMOTION, *args, "--url", self.url, "--token", self.token]
        return subprocess.Popen(
            command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("cli-render")
    port = free_port()
    env = env_for(directory, port)
    url = f"http://127.0.0.1:{port}"
    with running(["serve"], env, directory / "serve.log") as process:
        wait_healthy(url, process, directory / "serve.log")
        token = subprocess.run(
            [*PIXELMOTION, "token", "--user", "dana"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        yield Server(url, token, env)


def palette_files(directory: Path) -> dict[str, Path]:
    lines = "\n".join(" ".join(str(int(c[k : k + 2], 16)) for k in (1, 3, 5)) for c in FOUR)
    files = {
        "gpl": ("mine.gpl", f"GIMP Palette\nName: mine\n{lines}\n"),
        "hex": ("mine.hex", "\n".join(c[1:] for c in FOUR) + "\n"),
        "pal": ("mine.pal", f"JASC-PAL\n0100\n4\n{lines}\n"),
    }
    paths = {}
    for name, (filename, text) in files.items():
        paths[name] = directory / filename
        paths[name].write_text(text)
    image = Image.new("RGB", (4, 1))
    image.putdata([tuple(int(c[k : k + 2], 16) for k in (1, 3, 5)) for c in FOUR])
    paths["png"] = directory / "mine.png"
    image.save(paths["png"])
    return paths


def colours_of(frames_json: Path) -> set[str]:
    seen: set[str] = set()
    for frame in json.loads(frames_json.read_text())["frames"]:
        pixels = np.array(frame["imageData"], dtype=np.uint8).reshape(-1, 4)
        seen.update("#{:02x}{:02x}{:02x}".format(*p[:3]) for p in np.unique(pixels[pixels[:, 3] > 0], axis=0))
    return seen


def finish(process: subprocess.Popen[str]) -> str:
    _, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    return err


def test_generate_with_each_palette_then_render_again(server: Server, tmp_path: Path) -> None:
    sources: dict[str, tuple[str, list[str]]] = {
        "preset": ("gameboy", list(PRESETS["gameboy"])),
        "hex text": (",".join(FOUR), FOUR),
        **{name: (str(path), FOUR) for name, path in palette_files(tmp_path).items()},
    }
    common = ["--size", "16x16", "--fps", "12", "--formats", "gif,sheet,json,aseprite,zip"]
    started = {
        name: server.run(
            "generate", "a lantern swinging", "--palette", palette, *common, "-o", str(tmp_path / name)
        )
        for name, (palette, _) in sources.items()
    }
    job_ids = {}
    for name, process in started.items():
        err = finish(process)
        job_ids[name] = err.split("job ", 1)[1].split()[0]
        out = tmp_path / name
        for filename in (
            "animation.gif",
            "sheet.png",
            "sheet.json",
            "frames.json",
            "animation.aseprite",
            "frames.zip",
        ):
            assert (out / filename).is_file(), (name, filename)
        assert colours_of(out / "frames.json") <= set(sources[name][1]), name

    # render: the paid clip again, at another size, with the palette of another job
    out = tmp_path / "again"
    err = finish(
        server.run(
            "render", job_ids["preset"], "--size", "24x24", "--palette-from", job_ids["gpl"], "-o", str(out)
        )
    )
    assert f"a re-render of {job_ids['preset']}" in err and "completed" in err
    assert open_image(out / "animation.gif").size == (24, 24)
    assert colours_of(out / "frames.json") <= set(FOUR)


def test_generate_refuses_an_unknown_loop_mode_or_format(server: Server) -> None:
    for args in (["--loop", "sideways"], ["--formats", "gif,bmp"]):
        process = server.run("generate", "a lantern swinging", *args)
        process.communicate(timeout=60)
        assert process.returncode == 2, args


def test_a_ctrl_c_whose_interrupt_was_dropped_still_stops_the_watch() -> None:
    """CPython drops a KeyboardInterrupt raised inside a finalizer (a generator the garbage
    collector closes, a ``__del__``): the kept Ctrl-C stops the watch at its next update all
    the same, with status 130, rather than following the job to its end (seen under load)."""
    from types import SimpleNamespace

    import typer

    from pixelmotion.cli_render import follow_job

    def job(status: str, progress: int) -> SimpleNamespace:
        return SimpleNamespace(status=status, progress=progress, progress_message="", queue_position=None)

    class DroppingClient:  # the one call follow_job makes before the job ends
        def wait(self, job_id: str, on_update: Any) -> SimpleNamespace:
            on_update(job("dreaming", 60))
            try:
                signal.raise_signal(signal.SIGINT)  # Ctrl-C, landing in a finalizer…
                time.sleep(5)  # (the handler runs at the next bytecode or cuts this short)
            except KeyboardInterrupt:
                pass  # …which drops it
            on_update(job("completed", 100))
            return job("completed", 100)

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(typer.Exit) as stopped:
        follow_job(DroppingClient(), "job-1", None)
    assert stopped.value.exit_code == 130
    assert signal.getsignal(signal.SIGINT) is before  # the usual handler is back


@pytest.mark.parametrize("inherited", ["ignored", "blocked"])
def test_ctrl_c_stops_the_watch_even_if_the_process_came_with_it_ignored_or_blocked(inherited: str) -> None:
    """A parent's SIG_IGN or signal mask is inherited; the watch takes Ctrl-C for itself and
    gives both back afterwards."""
    from types import SimpleNamespace

    import typer

    from pixelmotion.cli_render import follow_job

    class Client:
        def wait(self, job_id: str, on_update: Any) -> SimpleNamespace:
            signal.raise_signal(signal.SIGINT)
            time.sleep(5)  # cut short by the handler
            raise AssertionError("Ctrl-C did not stop the watch")

    before_handler = signal.getsignal(signal.SIGINT)
    if inherited == "ignored":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with pytest.raises(typer.Exit) as stopped:
            follow_job(Client(), "job-1", None, announce="job job-1 started")
        assert stopped.value.exit_code == 130
        if inherited == "ignored":
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        else:
            assert signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, set())
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, before_handler)
