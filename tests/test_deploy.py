"""The deployment files (deploy/, docs/DEPLOY.md) hold together. No Docker engine runs here, so
the compose file is checked as YAML against what pixelmotion reads, not started; the systemd
units go through ``systemd-analyze verify`` where it exists."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pixelmotion.cli import app as cli_app
from pixelmotion.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = ("pixelmotion-api@.service", "pixelmotion-worker@.service")


def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def documented_settings() -> set[str]:
    return set(re.findall(r"^\| `(PIXELMOTION_[A-Z0-9_]+)`", (ROOT / "README.md").read_text(), re.MULTILINE))


def test_compose_describes_the_scaled_out_shape() -> None:
    services = compose()["services"]
    assert {"postgres", "minio", "bucket", "migrate", "api", "worker", "proxy"} <= set(services)
    assert services["api"]["command"][:2] == ["serve", "--no-worker"]
    assert services["worker"]["command"][0] == "worker"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["api"]["deploy"]["replicas"] >= 2 and services["worker"]["deploy"]["replicas"] >= 2
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["healthcheck"]["test"]
    assert (DEPLOY / "nginx.conf").is_file() and (DEPLOY / "Dockerfile").is_file()


def test_compose_settings_are_real_and_load() -> None:
    environment = compose()["services"]["api"]["environment"]
    known = documented_settings()
    assert set(environment) <= known, set(environment) - known
    settings = load_settings(
        {
            **environment,
            "PIXELMOTION_SECRET_KEY": "k" * 32,
            "PIXELMOTION_JWT_SECRET": "j" * 32,
            "PIXELMOTION_DATA_DIR": "/tmp/x",
        }
    )
    assert settings.storage_url == "s3://pixelmotion/results" and settings.retention_days == 30
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_the_env_example_names_real_settings() -> None:
    text = (DEPLOY / "pixelmotion.env.example").read_text()
    named = set(re.findall(r"^#? ?(PIXELMOTION_[A-Z0-9_]+)=", text, re.MULTILINE))
    assert "PIXELMOTION_SECRET_KEY" in named and "PIXELMOTION_JWT_SECRET" in named
    assert named <= documented_settings(), named - documented_settings()


@pytest.mark.parametrize("unit", UNITS)
def test_units_run_existing_commands(unit: str) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / unit)
    assert {"Unit", "Service", "Install"} <= set(parser.sections())
    command = parser["Service"]["ExecStart"].split()
    assert command[0].endswith("/pixelmotion")
    commands = {c.name or (c.callback.__name__ if c.callback else "") for c in cli_app.registered_commands}
    assert command[1] in commands
    assert parser["Service"]["EnvironmentFile"] == "/etc/pixelmotion/pixelmotion.env"


def test_units_pass_systemd_analyze(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    here = Path(sys.executable).parent / "pixelmotion"
    paths = []
    for unit, instance in zip(UNITS, ("8001", "1"), strict=True):
        text = (DEPLOY / unit).read_text().replace("/opt/pixelmotion/.venv/bin/pixelmotion", str(here))
        path = tmp_path / unit.replace("@.", f"@{instance}.")
        path.write_text(text)
        paths.append(str(path))
    result = subprocess.run([analyze, "verify", *paths], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if "pixelmotion" in line]
    assert result.returncode == 0 and not problems, result.stderr


def test_the_deploy_guide_points_at_files_that_exist() -> None:
    guide = (ROOT / "docs" / "DEPLOY.md").read_text()
    for name in re.findall(r"`(deploy/[^`]+)`", guide):
        assert (ROOT / name).exists(), name
    for setting in set(re.findall(r"PIXELMOTION_[A-Z0-9_]+", guide)):
        assert setting in documented_settings(), setting
