"""The command line's server side: options and helpers of the commands that talk to a server
(``generate``, ``wait``, ``render``…), and ``pixelmotion render`` (a re-render of a job's paid
clip: a new job, no provider call, no cost)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from pixelmotion.cli_convert import PALETTE_HELP, parse_size
from pixelmotion.jobs.options import BACKGROUNDS, DITHERS, FITS, FPS_CHOICES, LOOP_MODES


def one_of(choices: tuple[Any, ...], help: str) -> Any:
    """An option taking one of a request's choices (jobs/options.py); --help lists them."""

    def parse(text: object) -> Any:  # the default comes as it is, a typed value as text
        for choice in choices:
            if str(choice) == str(text):
                return choice
        raise typer.BadParameter(f"choose one of {', '.join(map(str, choices))}")

    return typer.Option(parser=parse, metavar="|".join(map(str, choices)), help=help)


UrlOption = Annotated[str | None, typer.Option("--url", help="Server URL [PIXELMOTION_URL].")]
TokenOption = Annotated[str | None, typer.Option("--token", help="Bearer token [PIXELMOTION_TOKEN].")]


def client_for(url: str | None, token: str | None) -> Any:
    from pixelmotion.client import Client

    return Client(url, token)


def fail(error: Exception) -> typer.Exit:
    from pixelmotion.client import PixelmotionError

    if isinstance(error, PixelmotionError):
        typer.echo(f"error: {error.message} ({error.code})", err=True)
    else:
        typer.echo(f"error: cannot reach the server ({type(error).__name__})", err=True)
    return typer.Exit(1)


def stopped_watching(job_id: str) -> typer.Exit:
    """Ctrl-C once the job exists: say how to pick it up again (exit status 130)."""
    typer.echo(f"\nStopped watching; job {job_id} keeps running.", err=True)
    typer.echo(f"Resume with: pixelmotion wait {job_id}", err=True)
    return typer.Exit(130)


def watch(client: Any, job_id: str, pressed: threading.Event) -> Any:
    """The job once it ends, with a live progress bar meanwhile; a kept Ctrl-C (``pressed``)
    stops it at the next update even if its KeyboardInterrupt was dropped."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("[bold]{task.fields[status]}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    # No redirection of stdout/stderr: a Ctrl-C while the display starts would leave them
    # redirected, and the message after it would be lost.
    with Progress(*columns, redirect_stdout=False, redirect_stderr=False) as progress:
        task = progress.add_task("", total=100, status="pending")

        def update(job: Any) -> None:
            if pressed.is_set():
                raise KeyboardInterrupt
            message = job.progress_message or ""
            if job.status == "pending" and job.queue_position:
                message = f"{message} (#{job.queue_position} in line)".strip()
            progress.update(task, completed=job.progress, description=message, status=job.status)

        job = client.wait(job_id, on_update=update)
    if pressed.is_set():
        raise KeyboardInterrupt
    return job


@contextlib.contextmanager
def ctrl_c_kept() -> Iterator[threading.Event]:
    """Ctrl-C raises KeyboardInterrupt as usual, and is also kept in the event yielded.

    CPython raises it wherever the main thread is, and one raised inside a finalizer (a
    generator closed by the garbage collector, a ``__del__``) is printed and dropped: the
    watch would then go on to the job's end. Seen once under heavy load, exit status 0."""
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed  # only the main thread may handle signals
        return

    def on_ctrl_c(_signum: int, _frame: FrameType | None) -> None:
        pressed.set()
        raise KeyboardInterrupt

    # Ours even if this process was started with Ctrl-C ignored or blocked (a parent's
    # settings are inherited): the command says Ctrl-C stops the watch, so it does.
    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    blocked = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        yield pressed
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        signal.signal(signal.SIGINT, previous)


def follow_job(
    client: Any,
    job_id: str,
    output: Path | None,
    outputs: tuple[str, ...] | None = None,
    announce: str | None = None,
) -> None:
    """Say ``announce`` (the job started), show a live progress bar until the job ends, and
    download its results when it completes. Ctrl-C stops watching only: the job keeps
    running on the server."""
    try:  # from the first moment: a Ctrl-C anywhere in here says how to resume
        with ctrl_c_kept() as pressed:
            if announce:  # once Ctrl-C is ours: a user answers this line with it
                typer.echo(announce, err=True)
            job = watch(client, job_id, pressed)
    except KeyboardInterrupt:
        raise stopped_watching(job_id) from None
    if job.status != "completed":
        message = job.error.message if job.error else job.status
        typer.echo(f"job {job_id} {job.status}: {message}", err=True)
        raise typer.Exit(1)
    typer.echo(f"job {job_id} completed: {job.total_frames} frames", err=True)
    if output is not None:
        chosen = {} if outputs is None else {"formats": outputs}
        for path in client.download(job_id, output, **chosen).values():
            typer.echo(str(path))


# --- canvas options (generate and render) ----------------------------------------------------

DEFAULT_FORMATS = "gif,sheet,json"
FORMATS_HELP = (
    "Comma list of files to download: gif, sheet (sheet.png + sheet.json), json (frames.json), "
    "aseprite, atlas (sheet.png + sheet.hash.json + sheet.array.json), godot (sheet.png + "
    "animation.tres), webp, apng (animation.png), zip (frames.zip: one PNG a frame)."
)
# A --formats name -> the job's outputs it downloads (the client's names).
FORMAT_OUTPUTS: dict[str, tuple[str, ...]] = {
    "gif": ("gif",),
    "sheet": ("sheet", "sheetJson"),
    "json": ("frames",),
    "aseprite": ("aseprite",),
    "atlas": ("sheet", "sheetHash", "sheetArray"),
    "godot": ("sheet", "godot"),
    "webp": ("webp",),
    "apng": ("apng",),
    "zip": ("zip",),
}


def download_names(formats: str) -> tuple[str, ...]:
    """The outputs to download for a ``--formats`` list (each once, in order)."""
    names: list[str] = []
    for name in (part.strip() for part in formats.split(",") if part.strip()):
        if name not in FORMAT_OUTPUTS:
            raise typer.BadParameter(f"unknown format {name!r}; choose from {', '.join(FORMAT_OUTPUTS)}")
        names.extend(FORMAT_OUTPUTS[name])
    return tuple(dict.fromkeys(names))


def palette_value(text: str | None) -> str | Path | None:
    """A palette file's path (sent as the file), else a preset name or hex colours as given."""
    if text is None:
        return None
    path = Path(text).expanduser()
    return path if path.is_file() else text


PaletteOption = Annotated[str | None, typer.Option(help=PALETTE_HELP)]
BackgroundOption = Annotated[
    str | None, one_of(BACKGROUNDS, "remove: transparent background (the prompt asks for a key colour).")
]
KeyColorOption = Annotated[
    str | None, typer.Option("--key-color", help="#rrggbb to key out (with --background remove).")
]
LoopOption = Annotated[
    str | None, one_of(LOOP_MODES, "trim: the seamless run of frames; pingpong: forward then back.")
]
FormatsOption = Annotated[str, typer.Option(help=FORMATS_HELP)]


def render(
    job_id: Annotated[str, typer.Argument(help="The job whose paid clip to render again.")],
    size: Annotated[str | None, typer.Option(help="Canvas WIDTHxHEIGHT.")] = None,
    colors: Annotated[int | None, typer.Option(help="Palette size (2-256).")] = None,
    palette: PaletteOption = None,
    palette_from: Annotated[str | None, typer.Option(help="Use the palette of this job.")] = None,
    fps: Annotated[int | None, one_of(FPS_CHOICES, "Frames a second.")] = None,
    dither: Annotated[str | None, one_of(DITHERS, "How colours mix.")] = None,
    fit: Annotated[str | None, one_of(FITS, "How the clip fills the canvas.")] = None,
    background: BackgroundOption = None,
    key_color: KeyColorOption = None,
    loop: LoopOption = None,
    formats: FormatsOption = DEFAULT_FORMATS,
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory for the results.")] = Path("."),
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Render JOB_ID's stored clip again with other canvas options (the rest stay the job's):
    a new job, no video-model call, no cost. Shows progress and downloads the results."""
    width, height = parse_size(size) if size else (None, None)
    options = {
        "width": width,
        "height": height,
        "color_count": colors,
        "palette": palette_value(palette),
        "palette_from": palette_from,
        "fps": fps,
        "dither": dither,
        "fit": fit,
        "background": background,
        "key_color": key_color,
        "loop": loop,
    }
    outputs = download_names(formats)
    with client_for(url, token) as client:
        try:
            job = client.render(job_id, **options)
        except Exception as error:
            raise fail(error) from None
        follow_job(
            client, job.id, output, outputs, announce=f"job {job.id} started (a re-render of {job_id})"
        )
