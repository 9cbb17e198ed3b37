"""config.yaml is validated at start: an unknown key or a bad value fails with a message naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli.main import app
from core.config import DEFAULT_CONFIG, ConfigError, load_config


def write(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    data["org_file"] = str(DEFAULT_CONFIG.parent / "org.yaml")
    mutate(data)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_default_config_loads_with_the_sample_county() -> None:
    cfg = load_config()
    assert cfg.org is not None and cfg.org.county == "岚江县"
    assert {r.level for r in cfg.org.regions} == {"county", "township", "village"}
    assert cfg.database_url().startswith("sqlite:///")


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda d: d.update(colour="blue"), "colour"),
        (lambda d: d["classifier"].update(high="very"), "classifier.high"),
        (lambda d: d["classifier"].update(middle=0.9, high=0.5), "classifier"),
        (lambda d: d["categories"]["road"].update(limit_days=0), "categories.road.limit_days"),
        (lambda d: d["categories"]["road"].update(handler="county_nowhere"), "categories.road.handler"),
        (lambda d: d["merge"].update(window_hourz=3), "merge.window_hourz"),
        (lambda d: d.update(ticket_prefix="sg-1"), "ticket_prefix"),
        (lambda d: d["schedules"].update(accept_hourz=1), "schedules.accept_hourz"),
    ],
)
def test_bad_config_fails_naming_the_key(tmp_path: Path, mutate, key: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, mutate))
    assert key in str(err.value)


def test_org_file_with_unknown_region_fails_naming_it(tmp_path: Path) -> None:
    org = yaml.safe_load((DEFAULT_CONFIG.parent / "org.yaml").read_text(encoding="utf-8"))
    org["groups"].append({"platform": "local", "chat_id": "x", "title": "x", "region": "atlantis"})
    (tmp_path / "org.yaml").write_text(yaml.safe_dump(org, allow_unicode=True), encoding="utf-8")
    path = write(tmp_path, lambda d: d.update(org_file=str(tmp_path / "org.yaml")))
    with pytest.raises(ConfigError, match="atlantis"):
        load_config(path)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_cli_reports_config_errors_without_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, lambda d: d.update(colour="blue"))
    result = CliRunner().invoke(app, ["status", "--config", str(path)])
    assert result.exit_code == 2
    assert "colour" in result.output and "Traceback" not in result.output


def test_database_url_from_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHANZHI_DATABASE_URL", "postgresql://db.example/shanzhi")
    assert load_config().database_url() == "postgresql://db.example/shanzhi"
