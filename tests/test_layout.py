"""The shape of the source tree: modules small enough to read at once, and the web page's
script split into ES modules the browser loads as they are (no build step)."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "pixelmotion"
STATIC = PACKAGE / "api" / "static"
MAX_LINES = 450
# The emulator's renderer draws its scenes in one place; it may be longer.
EXEMPT = {PACKAGE / "providers" / "emulator" / "render.py"}
IMPORT = re.compile(r"""^\s*import\s[^;]*?from\s+["'](\./[^"']+)["']""", re.MULTILINE)


def test_no_module_under_src_is_over_450_lines() -> None:
    modules = sorted(SRC.rglob("*.py"))
    assert len(modules) > 50  # the walk found the package
    long = {
        str(path.relative_to(SRC)): lines
        for path in modules
        if path not in EXEMPT and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these modules (at most {MAX_LINES} lines each)"


def test_the_page_script_is_an_es_module_over_texts_and_player() -> None:
    page = (STATIC / "index.html").read_text()
    assert re.search(r"""<script\s+type=["']module["']\s+src=["']/static/app\.js["']""", page)
    imported = set(IMPORT.findall((STATIC / "app.js").read_text()))
    assert {"./texts.js", "./player.js"} <= imported
    for module in ("texts.js", "player.js"):
        assert re.search(r"^export\s", (STATIC / module).read_text(), re.MULTILINE), module


def test_every_relative_import_of_the_page_is_a_file_it_serves() -> None:
    # The browser fetches each import from /static/ as it is: a name that is not there breaks
    # the page, and there is no bundler to catch it.
    scripts = sorted(STATIC.glob("*.js"))
    seen = 0
    for script in scripts:
        for target in IMPORT.findall(script.read_text()):
            assert (STATIC / target).is_file(), f"{script.name} imports {target}"
            seen += 1
    assert seen >= 3
