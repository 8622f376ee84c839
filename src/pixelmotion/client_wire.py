"""What the Python client puts on the wire and reads back: request bodies in the API's
camelCase, and Server-Sent Events a line at a time. One copy for the sync and async client."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any


def palette_body(palette: str | list[str] | Path) -> Any:
    """A preset name or hex colours as they are; a palette file (a ``Path``) as base64."""
    if isinstance(palette, Path):
        return {"file": base64.b64encode(palette.read_bytes()).decode(), "filename": palette.name}
    return palette


def canvas_body(**options: Any) -> dict[str, Any]:
    """Python names to the wire's camelCase, options left as None left out."""
    if options.get("palette") is not None:
        options["palette"] = palette_body(options["palette"])
    return {_camel(key): value for key, value in options.items() if value is not None}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def create_body(
    prompt: str,
    *,
    width: int,
    height: int,
    fps: int,
    color_count: int | None = None,
    duration: int | None = None,
    model: str | None = None,
    resolution: str | None = None,
    aspect_ratio: str | None = None,
    loop: str | bool | None = None,
    dither: str | None = None,
    fit: str | None = None,
    project_id: str | None = None,
    palette: str | list[str] | Path | None = None,
    palette_from: str | None = None,
    background: str | None = None,
    key_color: str | None = None,
) -> dict[str, Any]:
    """A create request: ``palette`` is a preset, hex colours, or a palette file's ``Path``."""
    options = {k: v for k, v in locals().items() if k != "prompt"}
    return {"prompt": prompt, **canvas_body(**options)}


class SseDecoder:
    """Server-Sent Events, a line at a time: ``feed`` returns the job JSON an event carries
    once its blank line arrives. One decoder for the sync and the async client."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}
        self.last_id: int | None = None  # the id of the last event returned: where to resume

    def feed(self, line: str) -> dict[str, Any] | None:
        if line == "":
            fields, self._fields = self._fields, {}
            if "data" not in fields:
                return None
            if fields.get("id", "").isdigit():
                self.last_id = int(fields["id"])
            return json.loads(fields["data"])  # type: ignore[no-any-return]
        if not line.startswith(":"):  # a comment (keep-alive) carries nothing
            name, _, value = line.partition(":")
            self._fields[name] = value.removeprefix(" ")
        return None
