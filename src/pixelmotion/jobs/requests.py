"""The rules a job request must meet, and how a request becomes a ``JobSpec``.

Single-field limits are declared here (the choices in ``options.py``) and enforced by the API
schema; the rules that look at several fields at once (pixel budget, prompt as sent to the
model) live in ``build_spec``.
"""

from __future__ import annotations

import math

from pixelmotion.jobs.errors import InvalidRequest
from pixelmotion.jobs.models import JobSpec
from pixelmotion.jobs.options import ASPECT_RATIOS, AspectRatio

DEFAULT_KEY_COLOR = "#00ff00"
# Appended for background "remove": the model is asked for a clip the keyer can cut out.
KEYED_SCENE = (
    " The subject alone, whole and in frame, on a plain flat {key} background (one even colour, "
    "no scenery, no shadows on it), static camera."
)

PROMPT_MIN = 3
PROMPT_MAX = 5000  # Luma's own limit, which the prompt *as sent* must also meet
SIZE_MIN = 8
SIZE_MAX = 512
COLORS_MIN = 2
COLORS_MAX = 256
# width × height × frames: 256×256 at 30 fps for 9 s fits, 512×512 for 9 s at 30 fps does not.
MAX_TOTAL_PIXELS = 32 * 1024 * 1024


def nearest_aspect_ratio(width: int, height: int) -> AspectRatio:
    """Luma's aspect ratio closest to width:height (compared on a log scale)."""
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        a, b = ratio.split(":")
        return abs(math.log(int(a) / int(b)) - target)

    return min(ASPECT_RATIOS, key=distance)


def render_provider_prompt(template: str, prompt: str, loop: bool, key_color: str | None = None) -> str:
    """The user's prompt inside the template that steers the model toward pixelable clips;
    with a ``key_color`` (background "remove"), the request for a plain key-colour scene."""
    loop_hint = ", a seamless loop" if loop else ""
    text = template.replace("{loop}", loop_hint).replace("{prompt}", prompt.strip())
    return text + KEYED_SCENE.format(key=key_color) if key_color else text


def loop_mode_of(loop: str | bool) -> str:
    """The loop mode; the old boolean still reads (false: none, true: trim)."""
    if isinstance(loop, bool):
        return "trim" if loop else "none"
    return loop


def canvas_errors(
    palette: list[str] | None, color_count: int | None, background: str, key_color: str | None, fit: str
) -> dict[str, str]:
    """The rules between the canvas options (also checked for a re-render's merged options)."""
    errors: dict[str, str] = {}
    if palette is None and color_count is None:
        errors["colorCount"] = "is required without a palette"
    if key_color is not None and background != "remove":
        errors["keyColor"] = 'needs background "remove"'
    if fit == "subject" and background != "remove":
        errors["fit"] = '"subject" needs background "remove"'
    if palette is not None and background == "remove" and len(palette) > COLORS_MAX - 1:
        errors["palette"] = f'with background "remove" a palette has at most {COLORS_MAX - 1} colours'
    return errors


def build_spec(
    *,
    prompt: str | None,
    width: int,
    height: int,
    color_count: int | None,
    fps: int,
    duration: int = 5,
    model: str = "ray-2",
    resolution: str = "720p",
    aspect_ratio: str | None = None,
    loop: str | bool = "none",
    dither: str = "none",
    fit: str = "crop",
    project_id: str | None = None,
    template: str = "{prompt}",
    source_url: str | None = None,
    source_object_key: str | None = None,
    palette: list[str] | None = None,
    background: str = "keep",
    key_color: str | None = None,
    parent_job_id: str | None = None,
) -> JobSpec:
    """Check the rules no single field can check, and fill the derived values.

    An import (``source_url`` or ``source_object_key``) needs no prompt: no model is asked.
    A ``palette`` (already read: ``#rrggbb`` list) sets ``color_count`` to its size (at least
    2), whatever ``color_count`` said. With background "remove" a transparent entry comes on
    top of the palette's colours (it never counts within ``color_count``).
    """
    errors = canvas_errors(palette, color_count, background, key_color, fit)
    loop_mode = loop_mode_of(loop)
    if palette is not None:
        color_count = max(COLORS_MIN, len(palette))
    is_import = source_url is not None or source_object_key is not None
    stripped = (prompt or "").strip()
    if is_import:
        stripped = stripped or "Imported video"
    elif len(stripped) < PROMPT_MIN:
        errors["prompt"] = f"must be at least {PROMPT_MIN} characters"
    provider_prompt = (
        ""
        if is_import
        else render_provider_prompt(
            template,
            stripped,
            loop_mode != "none",
            # The colour asked of the model; the keyer still estimates it from the clip
            # (a model never paints it exactly) unless the user gave keyColor.
            (key_color or DEFAULT_KEY_COLOR) if background == "remove" else None,
        )
    )
    if len(provider_prompt) > PROMPT_MAX:
        room = PROMPT_MAX - (len(provider_prompt) - len(stripped))
        errors["prompt"] = f"is too long once the style template is added; keep it under {room} characters"
    total = width * height * fps * duration
    if total > MAX_TOTAL_PIXELS:
        errors["width"] = (
            f"width × height × frames is {total:,} pixels; the limit is {MAX_TOTAL_PIXELS:,}. "
            "Use a smaller canvas, a lower fps or a shorter duration."
        )
    if errors:
        raise InvalidRequest(errors)
    assert color_count is not None  # canvas_errors: required without a palette
    return JobSpec(
        prompt=stripped,
        width=width,
        height=height,
        color_count=color_count,
        fps=fps,
        duration=duration,
        model=model,
        resolution=resolution,
        aspect_ratio=aspect_ratio or nearest_aspect_ratio(width, height),
        loop=loop_mode != "none",
        loop_mode=loop_mode,
        dither=dither,
        fit=fit,
        project_id=project_id,
        provider_prompt=provider_prompt,
        source_url=source_url,
        source_object_key=source_object_key,
        palette=tuple(palette) if palette is not None else None,
        background=background,
        key_color=key_color,
        parent_job_id=parent_job_id,
    )
