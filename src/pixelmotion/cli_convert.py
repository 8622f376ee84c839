"""``pixelmotion convert``: a video or animated image to pixel art, offline, in this process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pixelmotion.jobs.options import BACKGROUNDS, FITS, LOOP_MODES
from pixelmotion.media.errors import INVALID_OPTIONS, INVALID_PALETTE, MediaError

DEFAULT_FORMATS = "gif,sheet,json"
FORMATS_HELP = (
    "Comma list of outputs: gif (animation.gif), sheet (sheet.png + sheet.json), json (frames.json), "
    "aseprite (animation.aseprite), atlas (sheet.png + sheet.hash.json + sheet.array.json), "
    "godot (sheet.png + animation.tres), webp (animation.webp), apng (animation.png), "
    "zip (frames.zip), pngs (frames/0000.png…)."
)
PALETTE_HELP = (
    "A fixed palette: a preset (pico8, gameboy, nes, cga, sweetie-16, dawnbringer-16, dawnbringer-32, "
    "endesga-32, aap-64, …), hex colours ('#000000,#ffffff') or a palette file (.gpl, .hex, .pal, "
    ".png of swatches). Sets the number of colours."
)
# Options a user got wrong: exit 2, as for any bad command-line option.
_OPTION_CODES = (INVALID_OPTIONS, INVALID_PALETTE)


def _error(error: MediaError) -> typer.Exit:
    typer.echo(f"error: {error.message} ({error.code})", err=True)
    return typer.Exit(2 if error.code in _OPTION_CODES else 1)


def palette_option(value: str) -> list[str]:
    """A preset name, a hex list, or the path of a palette file."""
    from pixelmotion.media.palette_files import MAX_FILE_BYTES, load_palette

    path = Path(value).expanduser()
    if path.is_file():
        if path.stat().st_size > MAX_FILE_BYTES:
            raise MediaError(INVALID_PALETTE, f"the palette file is over {MAX_FILE_BYTES >> 20} MiB")
        return load_palette(path.read_bytes(), path.name)
    return load_palette(value)


def parse_size(value: str) -> tuple[int, int]:
    width, _, height = value.lower().partition("x")
    try:
        return int(width), int(height or width)
    except ValueError:
        raise typer.BadParameter("use WIDTHxHEIGHT, e.g. 64x64", param_hint="--size") from None


def convert(
    source: Annotated[
        Path, typer.Argument(help="A video file (anything FFmpeg reads) or an animated GIF, WebP or APNG.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory for the results.")] = Path("."),
    size: Annotated[str, typer.Option(help="Canvas WIDTHxHEIGHT (1-1024 each).")] = "64x64",
    colors: Annotated[int, typer.Option(help="Palette size (2-256); ignored with --palette.")] = 16,
    fps: Annotated[int, typer.Option(help="Frames per second of the animation (1-60).")] = 12,
    dither: Annotated[str, typer.Option(help="none, bayer or floyd.")] = "none",
    fit: Annotated[str, typer.Option(help=f"{', '.join(FITS)}.")] = "crop",
    palette: Annotated[str | None, typer.Option(help=PALETTE_HELP)] = None,
    formats: Annotated[str, typer.Option(help=FORMATS_HELP)] = DEFAULT_FORMATS,
    background: Annotated[
        str, typer.Option(help=f"{' or '.join(BACKGROUNDS)}: remove keys out a plain background.")
    ] = "keep",
    key_color: Annotated[
        str | None,
        typer.Option("--key-color", help="#rrggbb to key out (default: estimated from the clip)."),
    ] = None,
    loop: Annotated[str, typer.Option(help=f"{', '.join(LOOP_MODES)}.")] = "none",
) -> None:
    """Turn SOURCE into pixel art in OUTPUT, offline, with a progress bar; print the files written."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from pixelmotion.media.pixelate import pixelate_video, validate_options
    from pixelmotion.media.render import check_formats, write_outputs

    width, height = parse_size(size)
    chosen = [name.strip() for name in formats.split(",") if name.strip()]
    try:
        fixed = palette_option(palette) if palette is not None else None
        if fixed is not None:
            colors = max(2, len(fixed))  # the palette's size (a one-colour palette still maps)
        validate_options(width, height, colors, fps, dither, fit, background, loop)
        check_formats(chosen)
    except MediaError as error:
        raise _error(error) from None
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
            task = progress.add_task(f"converting {source.name}", total=1.0)
            animation = pixelate_video(
                source,
                width=width,
                height=height,
                colors=colors,
                fps=fps,
                dither=dither,
                fit=fit,
                palette=fixed,
                background=background,
                key_color=key_color,
                loop=loop,
                progress=lambda fraction: progress.update(task, completed=fraction),
            )
            progress.update(task, description=f"writing {', '.join(chosen)}")
            files = write_outputs(animation, output, chosen, server=False)
            progress.update(task, completed=1.0, description=f"converted {source.name}")
    except MediaError as error:
        raise _error(error) from None
    typer.echo(
        f"{len(animation.frames)} frames, {animation.width}×{animation.height}, "
        f"{len(animation.palette)} colours, {animation.fps} fps",
        err=True,
    )
    for name in files.values():
        typer.echo(str(output / name))
