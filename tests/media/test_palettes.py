"""The palette presets: sizes as published, valid colours, no duplicates."""

from __future__ import annotations

import pytest

from pixelmotion.media.palettes import COMMUNITY_PRESETS, PRESETS, resolve_palette

PUBLISHED_SIZES = {
    "pico8": 16,
    "gameboy": 4,
    "sweetie-16": 16,
    "dawnbringer-16": 16,
    "dawnbringer-32": 32,
    "endesga-32": 32,
    "aap-64": 64,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_SIZES))
def test_presets_have_their_published_size(name: str) -> None:
    assert len(PRESETS[name]) == PUBLISHED_SIZES[name]
    assert len(resolve_palette(name)) == PUBLISHED_SIZES[name]  # all distinct, all valid


def test_community_presets_are_presets() -> None:
    assert set(COMMUNITY_PRESETS) <= set(PRESETS)
    assert PRESETS["dawnbringer-32"][0] == "#000000" and PRESETS["endesga-32"][0] == "#be4a2f"
