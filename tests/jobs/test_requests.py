import pytest

from pixelmotion.config import DEFAULT_PROMPT_TEMPLATE
from pixelmotion.jobs.errors import InvalidRequest
from pixelmotion.jobs.requests import MAX_TOTAL_PIXELS, build_spec, nearest_aspect_ratio


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (64, 64, "1:1"),
        (128, 72, "16:9"),
        (72, 128, "9:16"),
        (64, 48, "4:3"),
        (210, 90, "21:9"),
        (8, 512, "9:21"),
    ],
)
def test_nearest_aspect_ratio(width: int, height: int, expected: str) -> None:
    assert nearest_aspect_ratio(width, height) == expected


def test_spec_keeps_the_prompt_and_the_prompt_sent() -> None:
    spec = build_spec(
        prompt="  a cat  ", width=64, height=64, color_count=16, fps=24, template=DEFAULT_PROMPT_TEMPLATE
    )
    assert spec.prompt == "a cat"
    assert "a cat" in spec.provider_prompt and spec.provider_prompt != "a cat"
    assert spec.aspect_ratio == "1:1"
    assert spec.frame_count == 120


def test_loop_is_asked_for_in_the_prompt_sent() -> None:
    spec = build_spec(
        prompt="a cat",
        width=64,
        height=64,
        color_count=16,
        fps=24,
        loop=True,
        template=DEFAULT_PROMPT_TEMPLATE,
    )
    assert "loop" in spec.provider_prompt


def test_prompt_too_long_once_templated_is_refused() -> None:
    with pytest.raises(InvalidRequest) as raised:
        build_spec(
            prompt="x" * 4990, width=64, height=64, color_count=16, fps=24, template=DEFAULT_PROMPT_TEMPLATE
        )
    assert "prompt" in raised.value.fields


def test_pixel_budget_is_enforced() -> None:
    with pytest.raises(InvalidRequest) as raised:
        build_spec(prompt="a cat", width=512, height=512, color_count=16, fps=30, duration=9)
    assert "width" in raised.value.fields
    assert MAX_TOTAL_PIXELS < 512 * 512 * 30 * 9
    # and the biggest common case fits
    build_spec(prompt="a cat", width=256, height=256, color_count=64, fps=30, duration=9)


def test_blank_prompt_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        build_spec(prompt="     ", width=64, height=64, color_count=16, fps=24)


def test_a_palette_sets_the_colour_count_and_wins_over_it() -> None:
    four = ["#000000", "#ff0000", "#00ff00", "#ffffff"]
    spec = build_spec(prompt="a cat", width=16, height=16, color_count=None, fps=12, palette=four)
    assert spec.palette == tuple(four) and spec.color_count == 4
    spec = build_spec(prompt="a cat", width=16, height=16, color_count=32, fps=12, palette=four)
    assert spec.color_count == 4
    with pytest.raises(InvalidRequest) as refused:
        build_spec(prompt="a cat", width=16, height=16, color_count=None, fps=12)
    assert "colorCount" in refused.value.fields


def test_background_remove_asks_the_model_for_a_key_colour_scene_the_emulator_renders() -> None:
    from pixelmotion.providers.emulator.keyscene import key_colour_of

    common = {"prompt": "a knight", "width": 64, "height": 64, "color_count": 8, "fps": 12}
    spec = build_spec(**common, background="remove", template=DEFAULT_PROMPT_TEMPLATE)  # type: ignore[arg-type]
    assert key_colour_of(spec.provider_prompt) == (0, 255, 0) and spec.key_color is None
    given = build_spec(**common, background="remove", key_color="#0000ff", template=DEFAULT_PROMPT_TEMPLATE)  # type: ignore[arg-type]
    assert key_colour_of(given.provider_prompt) == (0, 0, 255) and given.key_color == "#0000ff"
    assert key_colour_of(build_spec(**common, template=DEFAULT_PROMPT_TEMPLATE).provider_prompt) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"key_color": "#00ff00"}, "keyColor"),
        ({"fit": "subject"}, "fit"),
        ({"background": "remove", "palette": [f"#{i:06x}" for i in range(256)]}, "palette"),
    ],
)
def test_canvas_rules_between_fields(options: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        build_spec(prompt="a cat", width=16, height=16, color_count=8, fps=12, **options)  # type: ignore[arg-type]
    assert field in refused.value.fields


@pytest.mark.parametrize(
    ("loop", "mode", "flag"), [(False, "none", False), (True, "trim", True), ("pingpong", "pingpong", True)]
)
def test_loop_modes_and_the_old_booleans(loop: str | bool, mode: str, flag: bool) -> None:
    spec = build_spec(prompt="a cat", width=16, height=16, color_count=8, fps=12, loop=loop)
    assert (spec.loop_mode, spec.loop) == (mode, flag)
