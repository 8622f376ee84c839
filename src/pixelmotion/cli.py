"""The ``pixelmotion`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pixelmotion.cli_convert import convert, parse_size
from pixelmotion.cli_render import (
    DEFAULT_FORMATS,
    BackgroundOption,
    FormatsOption,
    KeyColorOption,
    LoopOption,
    PaletteOption,
    TokenOption,
    UrlOption,
    client_for,
    download_names,
    fail,
    follow_job,
    one_of,
    palette_value,
    render,
)
from pixelmotion.config import Settings, SettingsError, load_settings
from pixelmotion.jobs.options import DITHERS, DURATIONS, FITS, FPS_CHOICES

if TYPE_CHECKING:  # the client loads only for the commands that talk to a server
    from pixelmotion.client import Client, Job

app = typer.Typer(
    help="pixelmotion: turn a prompt or a video into an editable pixel-art animation.",
    no_args_is_help=True,
    add_completion=False,
)


def _settings(**overrides: Any) -> Settings:
    import os

    env = dict(os.environ)
    for name, value in overrides.items():
        if value is not None:
            env[f"PIXELMOTION_{name.upper()}"] = str(value)
    try:
        return load_settings(env)
    except SettingsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [PIXELMOTION_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [PIXELMOTION_PORT].")] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve the API only; run workers apart.")
    ] = False,
) -> None:
    """Run the API (and, unless --no-worker, a worker and the embedded emulator)."""
    import uvicorn

    from pixelmotion.api.app import create_app
    from pixelmotion.bootstrap import bootstrap
    from pixelmotion.logs import logging_config
    from pixelmotion.serving import freeze_startup_objects, server_options

    settings = _settings(host=host, port=port)
    services = bootstrap(settings)
    typer.echo(
        f"pixelmotion on {settings.public_url} "
        f"(provider: {settings.provider}, database: {services.engine.dialect.name})",
        err=True,
    )
    if services.emulator is not None:
        typer.echo(f"Luma emulator (this host only): {settings.emulator_base_url}", err=True)
    for line in sign_in_lines(settings, interactive=sys.stdout.isatty()):
        typer.echo(line, err=True)
    application = create_app(services, run_worker=not no_worker)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again with the
    # handler it found restored: this one ends the process through ``finally`` (services
    # closed, exit 0) rather than by the signal.
    signal.signal(signal.SIGTERM, _exit_quietly)
    freeze_startup_objects()
    try:
        uvicorn.run(
            application,
            host=settings.host,
            port=settings.port,
            log_config=logging_config(settings.log_format),
            **server_options(settings.header_timeout_seconds, settings.max_connections),
        )
    finally:
        services.close()
        typer.echo("pixelmotion stopped", err=True)


def sign_in_lines(settings: Settings, *, interactive: bool) -> list[str]:
    """What ``serve`` says about signing in. A token only to a person at a terminal or on a
    loopback-only server: anything else may be a log collector, and a token there is a
    30-day key to the local user's account."""
    import ipaddress

    from pixelmotion.security import issue_token

    try:
        loopback = ipaddress.ip_address(settings.host).is_loopback
    except ValueError:
        loopback = settings.host == "localhost"
    if not (interactive or loopback):
        return ["Get a sign-in token with: pixelmotion token --user USER"]
    token = issue_token(settings.jwt_secret, "local-user", audience=settings.jwt_audience)
    return [f"Open: {settings.public_url}/?token={token}", f"Token (user local-user): {token}"]


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


@app.command()
def worker(
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's Prometheus metrics on 127.0.0.1:PORT/metrics.")
    ] = None,
) -> None:
    """Run a worker alone: claims due jobs, submits, polls and processes them."""
    from pixelmotion.bootstrap import bootstrap
    from pixelmotion.logs import configure_logging
    from pixelmotion.serving import freeze_startup_objects
    from pixelmotion.worker.tasks import background

    settings = _settings()
    configure_logging(settings.log_format)
    services = bootstrap(settings, embed_emulator=False)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1", registry=services.metrics.registry)

    async def main() -> None:
        tasks = [asyncio.create_task(task) for task in background(services, run_worker=True).tasks]
        # SIGTERM (a deploy, a scale-down) stops the worker as Ctrl-C does: its running jobs
        # are cancelled and their leases released, so others take them over at once rather
        # than after the lease runs out.
        main_task = asyncio.current_task()
        assert main_task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await services.provider.aclose()

    freeze_startup_objects()
    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    finally:
        services.close()


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9000,
) -> None:
    """Run the Luma-compatible emulator alone, serving /dream-machine/v1 as Luma does."""
    from dataclasses import replace

    from pixelmotion.bootstrap import emulator_settings
    from pixelmotion.config import emulator_key
    from pixelmotion.logs import configure_logging
    from pixelmotion.providers.emulator import serve_emulator

    settings = _settings()
    if not settings.emulator_api_key:  # the provider is luma: this data dir's own key
        settings = replace(settings, emulator_api_key=emulator_key(settings.data_dir))
    configure_logging(settings.log_format)
    serve_emulator(host, port, emulator_settings(settings, f"http://{host}:{port}"))


app.command("convert")(convert)


@app.command()
def migrate() -> None:
    """Apply pending database migrations, then exit."""
    from pixelmotion.datadir import create_private_file, tighten
    from pixelmotion.store import create_engine
    from pixelmotion.store import migrate as apply_migrations

    settings = _settings()
    if settings.database_file is not None:
        create_private_file(settings.database_file)
    engine = create_engine(settings.database_url)
    apply_migrations(engine, lock_dir=settings.data_dir)
    engine.dispose()
    tighten(settings.data_dir, settings.database_file)
    typer.echo("database is up to date", err=True)


@app.command()
def token(
    user: Annotated[str, typer.Option("--user", help="The user id (the token's sub).")] = "local-user",
    role: Annotated[str, typer.Option(help="The role claim.")] = "authenticated",
    days: Annotated[int, typer.Option(help="Days until it expires.")] = 30,
) -> None:
    """Print a bearer token for USER (alone on stdout)."""
    from pixelmotion.security import issue_token

    settings = _settings()
    typer.echo(
        issue_token(
            settings.jwt_secret,
            user,
            audience=settings.jwt_audience,
            role=role,
            ttl_seconds=days * 86400,
        )
    )


# --- talking to a server: the helpers live in cli_render.py -----------------------------------


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="What the animation shows.")],
    size: Annotated[str, typer.Option(help="Canvas WIDTHxHEIGHT.")] = "64x64",
    colors: Annotated[int, typer.Option(help="Palette size (2-256).")] = 16,
    fps: Annotated[int, one_of(FPS_CHOICES, "Frames a second.")] = 12,
    duration: Annotated[int, one_of(DURATIONS, "Clip length in seconds.")] = 5,
    dither: Annotated[str, one_of(DITHERS, "How colours mix.")] = "none",
    fit: Annotated[str, one_of(FITS, "How the clip fills the canvas.")] = "crop",
    palette: PaletteOption = None,
    background: BackgroundOption = "keep",
    key_color: KeyColorOption = None,
    loop: LoopOption = "none",
    formats: FormatsOption = DEFAULT_FORMATS,
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory for the results.")] = Path("."),
    local: Annotated[bool, typer.Option("--local", help="Run the whole service in this process.")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Generate a pixel-art animation from PROMPT, show progress, download the results."""
    width, height = parse_size(size)
    options = {
        "width": width,
        "height": height,
        "color_count": colors,
        "fps": fps,
        "duration": duration,
        "dither": dither,
        "fit": fit,
        "loop": loop,
        "palette": palette_value(palette),
        "background": background,
        "key_color": key_color,
    }
    outputs = download_names(formats)
    with contextlib.ExitStack() as stack:
        if local:
            url, token = stack.enter_context(local_server())
        client = stack.enter_context(client_for(url, token))
        try:
            job_id = client.submit(prompt, **options)
        except Exception as error:
            raise fail(error) from None
        follow_job(client, job_id, output, outputs, announce=f"job {job_id} started")


app.command()(render)


@app.command()
def wait(
    job_id: Annotated[str, typer.Argument(help="The job to follow.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Download results here.")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Follow a job until it ends (e.g. after Ctrl-C in generate)."""
    with client_for(url, token) as client:
        try:
            client.get(job_id)
        except Exception as error:
            raise fail(error) from None
        follow_job(client, job_id, output)


@app.command()
def jobs(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List your jobs, newest first."""
    from rich.console import Console
    from rich.table import Table

    with client_for(url, token) as client:
        try:
            listed = client.list(limit=limit)
        except Exception as error:
            raise fail(error) from None
    table = Table("job", "status", "progress", "frames", "prompt")
    for job in listed:
        prompt = str(job.raw.get("prompt", ""))[:40]
        table.add_row(job.id, job.status, f"{job.progress}%", str(job.total_frames or ""), prompt)
    Console().print(table)


def _act(url: str | None, token: str | None, action: Callable[[Client], Job]) -> None:
    """Run one call on a job and say where the job stands after it."""
    with client_for(url, token) as client:
        try:
            job = action(client)
        except Exception as error:
            raise fail(error) from None
    typer.echo(f"job {job.id} {job.status}")


@app.command()
def cancel(job_id: str, url: UrlOption = None, token: TokenOption = None) -> None:
    """Cancel an unfinished job."""
    _act(url, token, lambda client: client.cancel(job_id))


@app.command()
def retry(job_id: str, url: UrlOption = None, token: TokenOption = None) -> None:
    """Process a failed job again from the clip already paid for."""
    _act(url, token, lambda client: client.retry(job_id))


@contextlib.contextmanager
def local_server() -> Iterator[tuple[str, str]]:
    """The whole service in this process on a free loopback port (for ``--local``)."""
    import socket
    import threading

    import uvicorn

    from pixelmotion.api.app import create_app
    from pixelmotion.bootstrap import bootstrap
    from pixelmotion.security import issue_token

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = _settings(host="127.0.0.1", port=port, public_url=f"http://127.0.0.1:{port}")
    services = bootstrap(settings)
    from pixelmotion.serving import server_options

    config = uvicorn.Config(
        create_app(services),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        **server_options(settings.header_timeout_seconds, settings.max_connections),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    try:
        token = issue_token(settings.jwt_secret, "local-user", audience=settings.jwt_audience)
        yield settings.public_url, token
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        services.close()


def main() -> None:
    logging.captureWarnings(True)
    app()


if __name__ == "__main__":
    main()
