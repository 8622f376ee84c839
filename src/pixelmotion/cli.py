"""The ``pixelmotion`` command line."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import typer

from pixelmotion.config import Settings, SettingsError, load_settings

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


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's logging, with callback and access tokens redacted from every line."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG}
    config["filters"] = {"redact": {"()": "pixelmotion.logs.RedactSecrets"}}
    config["handlers"] = {
        name: {**handler, "filters": ["redact"]} for name, handler in LOGGING_CONFIG["handlers"].items()
    }
    config["loggers"] = {
        **LOGGING_CONFIG["loggers"],
        "pixelmotion": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "httpx": {"handlers": ["default"], "level": "WARNING", "propagate": False},
    }
    return config


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
    from pixelmotion.security import issue_token

    settings = _settings(host=host, port=port)
    services = bootstrap(settings)
    token = issue_token(settings.jwt_secret, "local-user", audience=settings.jwt_audience)
    typer.echo(
        f"pixelmotion on {settings.public_url} "
        f"(provider: {settings.provider}, database: {services.engine.dialect.name})",
        err=True,
    )
    typer.echo(f"Open: {settings.public_url}/?token={token}", err=True)
    typer.echo(f"Token (user local-user): {token}", err=True)
    application = create_app(services, run_worker=not no_worker)
    try:
        uvicorn.run(application, host=settings.host, port=settings.port, log_config=uvicorn_log_config())
    finally:
        services.close()


@app.command()
def worker() -> None:
    """Run a worker alone: claims due jobs, submits, polls and processes them."""
    from pixelmotion.bootstrap import bootstrap
    from pixelmotion.logs import configure_logging
    from pixelmotion.worker.loop import Worker

    configure_logging()
    settings = _settings()
    services = bootstrap(settings, embed_emulator=False)

    async def main() -> None:
        from pixelmotion.events import listen_for_events

        worker = Worker(services)
        tasks = [asyncio.create_task(worker.run())]
        if services.engine.dialect.name == "postgresql":
            # Jobs created or moved by other processes wake this worker at once.
            tasks.append(asyncio.create_task(listen_for_events(settings.database_url, worker.nudge)))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await services.provider.aclose()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        services.close()


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9000,
) -> None:
    """Run the Luma-compatible emulator alone, serving /dream-machine/v1 as Luma does."""
    from pixelmotion.logs import configure_logging
    from pixelmotion.providers.emulator import EmulatorSettings, serve_emulator

    configure_logging()
    settings = _settings()
    serve_emulator(
        host,
        port,
        EmulatorSettings(
            api_key=settings.emulator_api_key,
            dream_seconds=settings.emulator_dream_seconds,
            cache_dir=settings.data_dir / "emulator",
            public_base_url=f"http://{host}:{port}",
            faults=settings.emulator_faults,
        ),
    )


@app.command()
def migrate() -> None:
    """Apply pending database migrations, then exit."""
    from pixelmotion.store import create_engine
    from pixelmotion.store import migrate as apply_migrations

    settings = _settings()
    engine = create_engine(settings.database_url)
    apply_migrations(engine, lock_dir=settings.data_dir)
    engine.dispose()
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


def main() -> None:
    logging.captureWarnings(True)
    app()


if __name__ == "__main__":
    main()
