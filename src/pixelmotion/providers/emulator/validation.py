"""Reading a create request the way Luma does, and the output size it implies.

Two kinds of refusal, both with Luma's ``{"detail": "<message>"}`` body:
- 422 when the body does not fit the schema (not an object, ``model`` missing, a value outside
  its enum, a wrong type). The message names the field, e.g. ``model: Field required``.
- 400 for Luma's documented "before submission" messages ("Prompt is required", "Prompt is
  too short, minimum length is 3 characters", "Loop is not supported for keyframes", ...).

Output size (width x height). The resolution names the short side; the long side follows
the aspect ratio:

| aspect | 540p      | 720p      | 1080p     | 4k        |
|--------|-----------|-----------|-----------|-----------|
| 16:9   | 960x540   | 1280x720  | 1920x1080 | 3840x2160 |
| 9:16   | 540x960   | 720x1280  | 1080x1920 | 2160x3840 |
| 1:1    | 540x540   | 720x720   | 1080x1080 | 2160x2160 |
| 4:3    | 720x540   | 960x720   | 1440x1080 | 2880x2160 |
| 3:4    | 540x720   | 720x960   | 1080x1440 | 2160x2880 |
| 21:9   | 1260x540  | 1680x720  | 2520x1080 | 5040x2160 |
| 9:21   | 540x1260  | 720x1680  | 1080x2520 | 2160x5040 |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODELS = ("ray-1-6", "ray-2", "ray-flash-2")
SHORT_SIDES = {"540p": 540, "720p": 720, "1080p": 1080, "4k": 2160}
ASPECT_RATIOS = {
    "1:1": (1, 1),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "21:9": (21, 9),
    "9:21": (9, 21),
}
DURATIONS = {"5s": 5, "9s": 9}
# What ``GET /generations/concepts/list`` answers: camera concepts, as Luma lists them
# (clients should read the list, not hard-code it). The emulator accepts any key and echoes
# it; none changes its picture (its camera is static).
CONCEPTS = (
    "static",
    "handheld",
    "zoom_in",
    "zoom_out",
    "pan_left",
    "pan_right",
    "tilt_up",
    "tilt_down",
    "orbit_left",
    "orbit_right",
    "crane_up",
    "crane_down",
    "push_in",
    "pull_out",
    "truck_left",
    "truck_right",
    "dolly_zoom",
)
DEFAULT_RESOLUTION = "720p"
DEFAULT_DURATION = "5s"
DEFAULT_ASPECT_RATIO = "16:9"
FPS = 24
PROMPT_MIN, PROMPT_MAX = 3, 5000
KNOWN_FIELDS = (
    "generation_type",
    "model",
    "prompt",
    "aspect_ratio",
    "resolution",
    "duration",
    "loop",
    "keyframes",
    "callback_url",
    "concepts",
)


class LumaRequestError(Exception):
    """A refusal Luma would answer with ``{"detail": message}`` and this status."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


@dataclass(frozen=True)
class CreateRequest:
    """A valid create request: the body to echo back, and what rendering needs from it."""

    echo: dict[str, Any]
    model: str
    prompt: str
    width: int
    height: int
    seconds: int
    loop: bool
    callback_url: str | None
    keyframe_image_url: str | None
    concepts: tuple[str, ...] = ()


def output_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    short = SHORT_SIDES[resolution]
    across, down = ASPECT_RATIOS[aspect_ratio]
    long_side = _even(short * max(across, down) / min(across, down))
    return (long_side, short) if across >= down else (short, long_side)


def _even(value: float) -> int:
    return round(value / 2) * 2


def parse_create_request(body: Any) -> CreateRequest:
    if not isinstance(body, dict):
        raise _schema_error("body", "Input should be a valid dictionary or object")
    model = _enum_field(body, "model", MODELS, required=True)
    resolution = _enum_field(body, "resolution", tuple(SHORT_SIDES)) or DEFAULT_RESOLUTION
    duration = _enum_field(body, "duration", tuple(DURATIONS)) or DEFAULT_DURATION
    aspect_ratio = _enum_field(body, "aspect_ratio", tuple(ASPECT_RATIOS)) or DEFAULT_ASPECT_RATIO
    _enum_field(body, "generation_type", ("video",))
    prompt = _typed_field(body, "prompt", str, "a valid string")
    loop = _typed_field(body, "loop", bool, "a valid boolean")
    callback_url = _typed_field(body, "callback_url", str, "a valid string")
    concepts = _concepts(body.get("concepts"))
    keyframes = _keyframes(body.get("keyframes"))

    frame0, frame1 = keyframes.get("frame0"), keyframes.get("frame1")
    starts_from_image = frame0 is not None and frame0["type"] == "image"
    _check_prompt(prompt, prompt_optional=starts_from_image)
    if "keyframes" in body and body["keyframes"] is not None and not (frame0 or frame1):
        raise LumaRequestError(400, "No keyframes provided")
    if loop:
        _check_loop(frame0, frame1)

    width, height = output_size(resolution, aspect_ratio)
    echo = {name: body[name] for name in KNOWN_FIELDS if name in body}
    if concepts:
        echo["concepts"] = [{"key": key} for key in concepts]
    return CreateRequest(
        echo=echo,
        model=model or MODELS[1],
        prompt=prompt or "",
        width=width,
        height=height,
        seconds=DURATIONS[duration],
        loop=bool(loop),
        callback_url=callback_url,
        keyframe_image_url=frame0["url"] if starts_from_image and frame0 else None,
        concepts=concepts,
    )


def _schema_error(field: str, message: str) -> LumaRequestError:
    return LumaRequestError(422, f"{field}: {message}")


def _enum_field(
    body: dict[str, Any], name: str, allowed: tuple[str, ...], *, required: bool = False
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _schema_error(name, "Field required")
        return None
    if value not in allowed:
        choices = ", ".join(f"'{choice}'" for choice in allowed[:-1])
        spelled = f"{choices} or '{allowed[-1]}'" if choices else f"'{allowed[-1]}'"
        raise _schema_error(name, f"Input should be {spelled}")
    return str(value)


def _typed_field(body: dict[str, Any], name: str, kind: type, description: str) -> Any:
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        raise _schema_error(name, f"Input should be {description}")
    return value


def _concepts(value: Any) -> tuple[str, ...]:
    """``[{"key": "static"}, ...]`` to ``("static", ...)``; 422 for any other shape."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _schema_error("concepts", "Input should be a valid list")
    keys = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _schema_error(f"concepts.{index}", "Input should be a valid dictionary or object")
        key = item.get("key")
        if key is None:
            raise _schema_error(f"concepts.{index}.key", "Field required")
        if not isinstance(key, str):
            raise _schema_error(f"concepts.{index}.key", "Input should be a valid string")
        keys.append(key)
    return tuple(keys)


def _keyframes(value: Any) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _schema_error("keyframes", "Input should be a valid dictionary or object")
    frames: dict[str, dict[str, str]] = {}
    for slot in ("frame0", "frame1"):
        frame = value.get(slot)
        if frame is None:
            continue
        frames[slot] = _keyframe(f"keyframes.{slot}", frame)
    return frames


def _keyframe(where: str, frame: Any) -> dict[str, str]:
    if not isinstance(frame, dict) or frame.get("type") not in ("image", "generation"):
        raise _schema_error(f"{where}.type", "Input should be 'image' or 'generation'")
    key = "url" if frame["type"] == "image" else "id"
    if not isinstance(frame.get(key), str) or not frame[key]:
        raise _schema_error(f"{where}.{key}", "Field required")
    return {"type": frame["type"], key: frame[key]}


def _check_prompt(prompt: str | None, *, prompt_optional: bool) -> None:
    if not prompt:
        if prompt_optional:
            return
        raise LumaRequestError(400, "Prompt is required")
    if len(prompt) < PROMPT_MIN:
        raise LumaRequestError(400, "Prompt is too short, minimum length is 3 characters")
    if len(prompt) > PROMPT_MAX:
        raise LumaRequestError(400, "Prompt is too long, maximum length is 5000 characters")


def _check_loop(frame0: dict[str, str] | None, frame1: dict[str, str] | None) -> None:
    """Luma refuses ``loop`` whenever the clip must end on a given frame."""
    if frame1 is None:
        return
    kinds = (frame0["type"] if frame0 else None, frame1["type"])
    messages = {
        ("image", "image"): "Loop is not supported for keyframes",
        ("generation", "image"): "Loop is not supported for interpolate video to image",
        ("image", "generation"): "Loop is not supported for interpolate image to video",
        ("generation", "generation"): "Loop is not supported for interpolate between two videos",
        (None, "generation"): "Loop is not supported for extend reverse",
        (None, "image"): "Loop is not supported for end frame",
    }
    raise LumaRequestError(400, messages[kinds])
