"""The README's table of settings, made from ``Settings`` (``config.specs``): written by
scripts/readme-settings.py, kept true by tests/test_config.py."""

from __future__ import annotations

from pixelmotion.config import specs

README_MARK = "<!-- settings table: generated from pixelmotion.config (scripts/readme-settings.py) -->"


def settings_markdown() -> str:
    """The README's table of settings, from ``Settings``."""
    rows = [f"| `{name}` | {spec.shown} | {spec.about} |" for name, spec in specs()]
    return "\n".join(["| variable | default | meaning |", "|---|---|---|", *rows]) + "\n"


def readme_with_settings(readme: str) -> str:
    """``readme`` with the table after ``README_MARK`` (up to a blank line) generated again."""
    start = readme.index(README_MARK) + len(README_MARK) + 1
    end = readme.find("\n\n", start)
    end = len(readme) if end < 0 else end + 1
    return readme[:start] + settings_markdown() + readme[end:]
