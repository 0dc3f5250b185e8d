"""FinksSettings on pydantic-settings: where variables come from, and how bad ones are reported."""

from __future__ import annotations

import os
import traceback
from pathlib import Path

import pytest

from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings, SettingsError

SECRET = "very-secret-value-42"
DOTENV = f"""# a developer's .env
FINKS_SOURCE=fmp
FMP_API_KEY={SECRET}   # inline comments are allowed
FINKS_UNIVERSE=AAPL,MSFT
FINKS_SYNTHETIC_SEED=3
FINKS_QUALITY__BARS_1M__MAX_ABS_RETURN=0.25
FINKS_SLACK_CHANNEL=
"""


@pytest.fixture
def dotenv_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cwd holding a .env; every variable it names is restored (unset) after the test."""
    (tmp_path / ".env").write_text(DOTENV)
    monkeypatch.chdir(tmp_path)
    for line in DOTENV.splitlines():
        if "=" in line and not line.startswith("#"):
            monkeypatch.setenv(line.split("=")[0], "placeholder")  # records "unset" for teardown
            monkeypatch.delenv(line.split("=")[0])
    return tmp_path


def test_dotenv_is_read_and_real_variables_win(dotenv_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINKS_SYNTHETIC_SEED", "11")
    settings = FinksSettings.from_env()
    assert (settings.source, settings.universe, settings.synthetic_seed) == ("fmp", ("AAPL", "MSFT"), 11)
    assert settings.fmp.api_key.get_secret_value() == SECRET
    assert settings.ops.quality_overrides == {"bars_1m": {"max_abs_return": "0.25"}}
    assert settings.ops.slack_channel == "#finks-alerts"  # blank: the default
    # Exported, without overriding: the EnvVar the factory hands Dagster resolves in this process.
    assert (os.environ["FMP_API_KEY"], os.environ["FINKS_SYNTHETIC_SEED"]) == (SECRET, "11")
    assert build_resources(settings)["fmp"].api_key.get_value() == SECRET
    assert SECRET not in repr(settings)


def test_an_explicit_mapping_is_all_that_is_read(dotenv_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINKS_ENV", "aws")
    settings = FinksSettings.from_env({"FINKS_DATA_DIR": str(dotenv_dir)})
    assert (settings.env, settings.source, settings.fmp.api_key) == ("local", "synthetic", None)
    assert "FMP_API_KEY" not in os.environ  # the .env was not loaded either
    assert FinksSettings().env == "local"  # constructing the class reads no environment at all


def test_errors_name_the_variable_and_value_and_every_problem() -> None:
    with pytest.raises(SettingsError) as caught:
        FinksSettings.from_env({"FINKS_ENV": "prod", "FINKS_PARTITIONS_PER_RUN": "0",
                                "FINKS_GLUE_DATABASE": "Finks", "FMP_BASE_URL": "ftp://x"})
    message = str(caught.value)
    assert "FINKS_ENV='prod': Input should be 'local', 's3' or 'aws'" in message
    assert "FINKS_PARTITIONS_PER_RUN='0': Input should be greater than 0" in message
    assert "FINKS_GLUE_DATABASE='Finks': not a Glue database name" in message
    assert "FMP_BASE_URL='ftp://x': not an http(s)://host[:port] URL" in message


@pytest.mark.parametrize("environ", [
    {"FINKS_ENV": "s3", "AWS_ENDPOINT_URL": "ftp://x", "AWS_ACCESS_KEY_ID": "k",
     "AWS_SECRET_ACCESS_KEY": SECRET},
    {"FINKS_ENV": "s3", "AWS_ENDPOINT_URL": "http://h:9", "AWS_ACCESS_KEY_ID": SECRET},
    {"FINKS_SOURCE": "fmp", "FMP_API_KEY": SECRET, "FMP_RATE_LIMIT_PER_MINUTE": "fast"},
    {"FINKS_ALERT_WEBHOOK_URL": f"https://hooks.example/{SECRET}", "FINKS_LOG_FORMAT": "xml"},
])
def test_secrets_never_reach_the_error_or_its_traceback(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as caught:
        FinksSettings.from_env(environ)
    assert isinstance(caught.value, ValueError)  # what the CLIs catch
    assert SECRET not in "".join(traceback.format_exception(caught.value))


def test_quality_thresholds_use_the_nested_delimiter(tmp_path: Path) -> None:
    base = {"FINKS_DATA_DIR": str(tmp_path)}
    settings = FinksSettings.from_env({**base, "FINKS_QUALITY__BARS_1M__MAX_STALE_BARS": "30"})
    assert build_resources(settings)["quality"].bars_1m.max_stale_bars == 30
    with pytest.raises(SettingsError, match=r"FINKS_QUALITY__MAX_STALE_BARS=30: expected "
                                            r"FINKS_QUALITY__<DATASET>__<FIELD>"):
        FinksSettings.from_env({**base, "FINKS_QUALITY__MAX_STALE_BARS": "30"})
    with pytest.raises(SettingsError, match="FINKS_QUALITY is not valid JSON"):
        FinksSettings.from_env({**base, "FINKS_QUALITY": "max_stale_bars=30"})
    typo = FinksSettings.from_env({**base, "FINKS_QUALITY__BARS_1M__MAX_STALE_BRAS": "30"})
    with pytest.raises(ValueError, match=r"unknown bars_1m threshold.*FINKS_QUALITY__BARS_1M__"):
        build_resources(typo)
    with pytest.raises(ValueError, match=r"no quality thresholds for dataset\(s\) \['bars_5m'\]"):
        build_resources(FinksSettings.from_env({**base, "FINKS_QUALITY__BARS_5M__X": "1"}))


def test_blank_means_default_and_aliases_keep_their_standard_names(tmp_path: Path) -> None:
    settings = FinksSettings.from_env({
        "FINKS_ENV": "AWS ", "FINKS_DATA_DIR": "", "FINKS_BRONZE_BUCKET": " ",
        "AWS_DEFAULT_REGION": "eu-west-1", "FMP_RATE_LIMIT_PER_MINUTE": "",
        "FINKS_GLUE_DATABASE": "finks_prod", "FINKS_PARTITIONS_PER_RUN": "5",
    })
    store = settings.object_store
    assert settings.data_dir == Path(".finks").absolute() and settings.partitions_per_run == 5
    assert (store.env, store.region, store.bronze_bucket) == ("aws", "eu-west-1", "finks-bronze")
    assert store.gold_glue_database == "finks_prod_gold"
    assert settings.fmp.rate_limit_per_minute == 300
    with pytest.raises(SettingsError, match="FINKS_API_PORT=''"):  # integers: blank is an error
        FinksSettings.from_env({"FINKS_API_PORT": ""})


@pytest.mark.parametrize(("tickers", "days"), [(500, 16), (200, 42), (20_000, 1), (11, 63)])
def test_backfill_run_size_keeps_a_run_near_its_memory_budget(tickers: int, days: int) -> None:
    universe = ",".join(f"T{i}" for i in range(tickers))
    settings = FinksSettings.from_env({"FINKS_UNIVERSE": universe})
    assert settings.partitions_per_run is None and settings.run_days == days
    blank = FinksSettings.from_env({"FINKS_UNIVERSE": universe, "FINKS_PARTITIONS_PER_RUN": " "})
    assert blank.run_days == days
    given = FinksSettings.from_env({"FINKS_UNIVERSE": universe, "FINKS_PARTITIONS_PER_RUN": "7"})
    assert given.run_days == 7


def test_the_run_size_is_the_bar_assets_backfill_policy() -> None:
    from finks_assets.definitions import build_definitions
    from finks_assets.defs.bars_1m.silver import SILVER_BARS

    universe = ",".join(f"T{i}" for i in range(500))
    defs = build_definitions(FinksSettings.from_env({"FINKS_UNIVERSE": universe}))
    policy = defs.resolve_assets_def(SILVER_BARS).backfill_policy
    assert policy is not None and policy.max_partitions_per_run == 16
