"""docs/DESIGN.md stays true to the code: every module and package it names exists, every
function it points at is defined where it says, and its "Where to look" section answers a
newcomer's first questions."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "pixelmotion"
DESIGN = (ROOT / "docs" / "DESIGN.md").read_text()
TICKED = re.compile(r"`([^`]+)`")
# `store/jobs.py`, `views/`, `tx.py`: a module or a package (not `/v1/jobs` nor `jobs/{id}/…`).
PATH_LIKE = re.compile(r"^[a-z_][a-z0-9_]*(/[a-z_][a-z0-9_]*)*(\.py|/)$")
# `app/jobs.py` `submit`, `store/jobs.py` `Jobs.apply`: a module, then what it defines.
POINTER = re.compile(r"`([a-z_][a-z0-9_/]*\.py)` `([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)`")


def section(title: str) -> str:
    start = DESIGN.index(f"\n## {title}\n")
    end = DESIGN.find("\n## ", start + 1)
    return DESIGN[start : len(DESIGN) if end < 0 else end]


def table_rows(text: str) -> list[list[str]]:
    rows = [line.strip().strip("|").split(" | ") for line in text.splitlines() if line.startswith("| ")]
    return rows[1:]  # the header


def exists(name: str, bases: list[Path]) -> bool:
    return any((base / name.rstrip("/")).exists() for base in bases)


def test_the_parts_table_names_only_modules_that_exist() -> None:
    rows = table_rows(section("Parts and where they live (`src/pixelmotion/`)"))
    assert len(rows) >= 10
    checked = 0
    for part, owns in rows:
        parts = TICKED.findall(part)
        assert parts, part
        for name in parts:
            assert exists(name, [PACKAGE]), f"the parts table names {name}, not under src/pixelmotion"
        # A name in the second column is the part's own (`tx.py` in the `store/` row) or the
        # package's (`app/limits.py`).
        bases = [PACKAGE, *(PACKAGE / name for name in parts if name.endswith("/"))]
        for name in TICKED.findall(owns):
            if PATH_LIKE.match(name):
                assert exists(name, bases), f"the row of {', '.join(parts)} names {name}: no such file"
                checked += 1
    assert checked >= 30


def test_every_path_the_design_names_exists() -> None:
    named = {name for name in TICKED.findall(DESIGN) if "/" in name and PATH_LIKE.match(name)}
    assert len(named) >= 15
    missing = sorted(name for name in named if not exists(name, [PACKAGE, ROOT]))
    assert missing == []


def test_every_function_the_design_points_at_is_defined_there() -> None:
    pointers = POINTER.findall(DESIGN)
    assert len(pointers) >= 10
    for module, name in pointers:
        path = PACKAGE / module
        assert path.is_file(), module
        source = path.read_text()
        for part in name.split("."):
            defined = rf"^\s*(?:async def|def|class) {part}\b|^{part}\s*[:=]"
            assert re.search(defined, source, re.MULTILINE), f"{module} defines no {part}"


def test_a_newcomer_finds_creation_state_changes_and_palettes_first() -> None:
    assert DESIGN.index("\n## Where to look\n") < DESIGN.index("\n## The flow\n")
    where = section("Where to look")
    pointers = set(POINTER.findall(where))
    assert ("app/jobs.py", "submit") in pointers  # where a job is created
    assert ("store/jobs.py", "Jobs.apply") in pointers and "`jobs/moves.py`" in where  # changes state
    assert ("media/dither.py", "map_frames") in pointers  # where a frame gets its palette
    assert ("media/quantize.py", "build_palette") in pointers
    assert ("media/pixelate.py", "pixelate_video") in pointers
