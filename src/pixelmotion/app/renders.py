"""Re-renders: a new job from a job's stored paid clip with other canvas options (no
provider call, no cost; it starts in ``processing`` like an import).

The new job points at its parent's clip; the worker copies the clip under the new job's own
prefix before it renders (``worker/process.py``), so each job keeps the clip it uses for as
long as the job itself is kept, and retention deletes each job's prefix on its own.
"""

from __future__ import annotations

from typing import Any

from pixelmotion.app.jobs import NoPaidClip, owned_job
from pixelmotion.app.limits import limits_gate
from pixelmotion.app.palettes import chosen_palette
from pixelmotion.app.ports import UserScope
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.requests import build_spec

# The canvas options a re-render takes (``build_spec``'s names); the rest are the parent's.
CANVAS_OPTIONS = (
    "width",
    "height",
    "color_count",
    "palette",
    "fps",
    "dither",
    "fit",
    "background",
    "key_color",
    "loop",
)


def parent_values(parent: Job) -> dict[str, Any]:
    """The parent's canvas options, as ``build_spec`` takes them."""
    return {
        "width": parent.width,
        "height": parent.height,
        "color_count": parent.color_count,
        "palette": list(parent.palette) if parent.palette else None,
        "fps": parent.fps,
        "dither": parent.dither,
        "fit": parent.fit,
        "background": parent.background,
        "key_color": parent.key_color,
        "loop": parent.loop_mode,
    }


def merged_options(parent: Job, given: dict[str, Any]) -> dict[str, Any]:
    """The parent's options with the given ones on top. A palette given replaces the
    parent's (``None``: the colours are chosen from the clip again); going back to background
    "keep" drops the parent's key colour."""
    options = {**parent_values(parent), **given}
    if options["background"] != "remove" and "key_color" not in given:
        options["key_color"] = None
    return options


def rerender(scope: UserScope, job_id: str, given: dict[str, Any], palette_job: str | None = None) -> Job:
    """A new job that pixelates ``job_id``'s stored clip again with other canvas options.

    ``given`` holds the options the caller set (its ``palette`` still as the API read it)."""
    parent = owned_job(scope, job_id)
    clip = parent.source_object_key
    if not clip or not scope.objects.exists(clip):
        raise NoPaidClip()
    given = dict(given)
    if "palette" in given or palette_job is not None:
        given["palette"] = chosen_palette(scope, given.get("palette"), palette_job)
    spec = build_spec(
        prompt=parent.prompt,
        duration=parent.duration,
        model=parent.model,
        resolution=parent.resolution,
        aspect_ratio=parent.aspect_ratio,
        project_id=parent.project_id,
        source_object_key=clip,
        parent_job_id=parent.id,
        **merged_options(parent, given),
    )
    return scope.store.jobs.submit(
        spec,
        user_id=scope.user_id,
        provider="import",  # no provider call: counts as an import (no cost, no provider slot)
        gate=limits_gate(spec, scope.rules.limits, scope.clock()),
        newest_endpoint_events="terminal",
    ).job
