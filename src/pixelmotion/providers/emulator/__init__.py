"""A Luma Dream Machine API emulator: real H.264 clips, real callbacks, optional faults.

Embedded in the service::

    emulator = Emulator(settings)
    app.mount("/emulator/luma", emulator.asgi_app())
    # in the service's lifespan: await emulator.start() ... await emulator.stop()

Standalone: ``serve_emulator(host, port, settings)``.
"""

from __future__ import annotations

from .app import Emulator, create_emulator_app
from .render import render_clip
from .settings import EmulatorSettings

__all__ = ["Emulator", "EmulatorSettings", "create_emulator_app", "render_clip", "serve_emulator"]


def serve_emulator(host: str, port: int, settings: EmulatorSettings) -> None:
    """Serve the emulator alone (``/dream-machine/v1`` at the root, as Luma does) until stopped."""
    import uvicorn

    # log_config=None keeps the logging the caller set up (JSON lines, secrets redacted).
    uvicorn.run(create_emulator_app(settings), host=host, port=port, log_config=None)
