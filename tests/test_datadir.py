"""The data directory and what it holds are its owner's only (issue 17, finding 15)."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

from pixelmotion.bootstrap import bootstrap
from pixelmotion.config import load_settings
from pixelmotion.datadir import kept_secret
from pixelmotion.providers.emulator.store import GenerationStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_directory_is_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "var"
    services = bootstrap(load_settings({"PIXELMOTION_DATA_DIR": str(data)}))
    try:
        assert mode(data) == 0o700
        assert mode(data / "pixelmotion.db") == 0o600
        assert mode(data / "secret_key") == 0o600 and mode(data / "jwt_secret") == 0o600
        services.repository.events.last_id()  # a read and a write later: the WAL files too
        for companion in data.glob("pixelmotion.db-*"):
            assert mode(companion) == 0o600, companion
    finally:
        services.close()
    store = GenerationStore(data / "emulator" / "generations.json")
    store.save()
    assert mode(data / "emulator") == 0o700
    assert mode(data / "emulator" / "generations.json") == 0o600


def test_an_existing_loose_data_directory_is_tightened_at_start(tmp_path: Path) -> None:
    data = tmp_path / "var"
    (data / "emulator").mkdir(parents=True)
    data.chmod(0o755)
    (data / "emulator").chmod(0o755)
    sqlite3.connect(data / "pixelmotion.db").close()
    (data / "pixelmotion.db").chmod(0o644)
    state = data / "emulator" / "generations.json"
    state.write_text(json.dumps({"generations": []}))
    state.chmod(0o644)
    services = bootstrap(load_settings({"PIXELMOTION_DATA_DIR": str(data)}))
    services.close()
    assert mode(data) == 0o700
    assert mode(data / "emulator") == 0o700
    assert mode(data / "pixelmotion.db") == 0o600
    assert mode(state) == 0o600


def test_a_kept_secret_is_made_once_and_private(tmp_path: Path) -> None:
    data = tmp_path / "new"
    first = kept_secret(data, "secret_key")
    assert len(first) >= 32 and mode(data / "secret_key") == 0o600 and mode(data) == 0o700
    assert kept_secret(data, "secret_key") == first  # read back, not made again
    assert kept_secret(data, "jwt_secret") != first
