import re
from pathlib import Path

import pytest

from pixelmotion.config import (
    DEFAULT_PROMPT_TEMPLATE,
    LUMA_MAX_IN_FLIGHT,
    Settings,
    SettingsError,
    load_settings,
    specs,
)
from pixelmotion.config_docs import readme_with_settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_settings_table_is_the_one_settings_declares() -> None:
    # Run scripts/readme-settings.py when this fails.
    text = README.read_text()
    assert readme_with_settings(text) == text


def test_every_variable_appears_once_in_the_readme() -> None:
    text = README.read_text()
    for name, _ in specs():
        assert text.count(f"| `{name}` |") == 1, name


def test_defaults_and_derived_values(tmp_path: Path) -> None:
    settings = load_settings({"PIXELMOTION_DATA_DIR": str(tmp_path), "PIXELMOTION_PORT": "9001"})
    assert settings.port == 9001
    assert settings.database_url == f"sqlite:///{tmp_path / 'pixelmotion.db'}"
    assert settings.storage_url == f"file://{tmp_path / 'objects'}"
    assert settings.public_url == "http://127.0.0.1:9001"
    assert settings.provider == "emulator"
    assert settings.provider_max_in_flight is None
    # Our own address is not an allowed host: only the embedded emulator's asset path on our
    # local port is fetched without the address check (issue 17, finding 10).
    assert settings.allowed_asset_hosts == frozenset()
    assert settings.allowed_asset_prefixes == frozenset({"http://127.0.0.1:9001/emulator/luma/assets/"})
    assert settings.prompt_template == DEFAULT_PROMPT_TEMPLATE
    assert settings.emulator_clip_dir is None
    assert settings.user_daily_budget_usd is None
    # Generated once, then kept: a second load reads the same secrets.
    again = load_settings({"PIXELMOTION_DATA_DIR": str(tmp_path)})
    assert settings.secret_key and settings.jwt_secret
    assert (again.secret_key, again.jwt_secret) == (settings.secret_key, settings.jwt_secret)


def test_values_are_parsed_by_their_kind(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "PIXELMOTION_DATA_DIR": str(tmp_path),
            "PIXELMOTION_LUMA_API_KEY": "key",
            "PIXELMOTION_PROVIDER_CREATES_PER_MINUTE": "off",
            "PIXELMOTION_CORS_ORIGINS": "https://a.example/, https://b.example",
            "PIXELMOTION_ALLOWED_WEBHOOK_HOSTS": "Hook.Example:8080,",
            "PIXELMOTION_DATABASE_URL": "postgresql://u@h/db",
            "PIXELMOTION_USER_DAILY_BUDGET_USD": "2.5",
            "PIXELMOTION_EMULATOR_CLIP_DIR": str(tmp_path / "clips"),
        }
    )
    assert settings.provider == "luma"
    assert settings.provider_max_in_flight == LUMA_MAX_IN_FLIGHT
    assert settings.provider_creates_per_minute is None
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.allowed_webhook_hosts == frozenset({"hook.example:8080"})
    assert settings.allowed_asset_hosts == frozenset()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.user_daily_budget_usd == 2.5
    assert settings.emulator_clip_dir == tmp_path / "clips"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORT", "eighty", "PIXELMOTION_PORT must be an integer"),
        ("LEASE_SECONDS", "0", "PIXELMOTION_LEASE_SECONDS must be greater than 0"),
        ("RETENTION_DAYS", "-1", "PIXELMOTION_RETENTION_DAYS must be 0 or more"),
        ("PROVIDER", "other", "PIXELMOTION_PROVIDER must be 'luma' or 'emulator'"),
        ("PROVIDER", "luma", "PIXELMOTION_PROVIDER=luma needs PIXELMOTION_LUMA_API_KEY"),
        ("PROMPT_TEMPLATE", "no placeholder", "PIXELMOTION_PROMPT_TEMPLATE must contain {prompt}"),
        ("LOG_FORMAT", "xml", "PIXELMOTION_LOG_FORMAT must be one of: json, text"),
        ("PROVIDER_MAX_IN_FLIGHT", "-3", "PIXELMOTION_PROVIDER_MAX_IN_FLIGHT must be a positive integer"),
        ("STORAGE_URL", "s3://", "PIXELMOTION_STORAGE_URL needs a bucket"),
    ],
)
def test_a_bad_value_names_its_variable(tmp_path: Path, variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_settings({"PIXELMOTION_DATA_DIR": str(tmp_path), f"PIXELMOTION_{variable}": value})


def test_secrets_stay_out_of_repr() -> None:
    text = repr(Settings(s3_secret_access_key="s3-secret", secret_key_previous="old-secret"))
    assert "s3-secret" not in text and "old-secret" not in text


def test_the_docs_name_only_settings_that_exist() -> None:
    root = README.parent
    texts = [README, *sorted((root / "docs").glob("*.md"))]
    # The client's own variables and the benchmarks' cache are not server settings.
    others = {"PIXELMOTION_URL", "PIXELMOTION_TOKEN", "PIXELMOTION_BENCH_CACHE"}
    declared = {name for name, _ in specs()} | others
    for path in texts:
        named = set(re.findall(r"PIXELMOTION_[A-Z0-9_]+", path.read_text()))
        assert named <= declared, (path.name, named - declared)
