"""URLs refused at submit: malformed, or with odd numeric hosts (issue 17, finding 14)."""

from __future__ import annotations

import pytest

from pixelmotion.urls import url_problem


@pytest.mark.parametrize(
    "url",
    [
        "http://0177.0.0.1/clip.mp4",
        "http://0x7f.1/clip.mp4",
        "http://2130706433/clip.mp4",
        "http://127.1/clip.mp4",
        "http://017700000001/clip.mp4",
        "http://[::1/clip.mp4",
        "ftp://example.com/clip.mp4",
    ],
)
def test_odd_and_malformed_urls_are_refused(url: str) -> None:
    assert url_problem(url) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/clip.mp4",
        "http://8.8.8.8/x",
        "http://cafe.be/x",
        "https://0a.example/x",
        "http://[2606:4700::1]/",
    ],
)
def test_ordinary_urls_pass(url: str) -> None:
    assert url_problem(url) is None
