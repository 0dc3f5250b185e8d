"""FINKS_ENV=s3/aws settings: the standard AWS variables, one bucket per zone, secrets hidden."""

from __future__ import annotations

import os

import pytest

from finks_assets.lib.resources.factory import DBT_TARGETS, build_resources
from finks_assets.lib.settings import FinksSettings, SettingsError

S3_ENV = {
    "FINKS_ENV": "s3",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
    "AWS_ACCESS_KEY_ID": "AKIAFINKSTEST",
    "AWS_SECRET_ACCESS_KEY": "very-secret-value-42",
}


def test_s3_mode_reads_the_standard_aws_variables_and_zone_buckets() -> None:
    store = FinksSettings.from_env({**S3_ENV, "FINKS_SILVER_BUCKET": "my-silver"}).object_store
    assert store is not None and store.env == "s3"
    assert (store.endpoint_host, store.scheme, store.region) == ("127.0.0.1:9000", "http", "us-east-1")
    assert store.zone_buckets == {
        "bronze": "finks-bronze", "audit": "finks-bronze", "landing": "finks-bronze",
        "silver": "my-silver", "reports": "finks-gold", "gold": "finks-gold",
    }
    assert store.create_missing_buckets


def test_secrets_never_appear_in_repr_or_str() -> None:
    settings = FinksSettings.from_env(S3_ENV)
    for text in (repr(settings), str(settings), repr(settings.object_store)):
        assert "very-secret-value-42" not in text
        assert "AKIAFINKSTEST" not in text
    assert settings.object_store.secret_access_key.get_secret_value() == "very-secret-value-42"
    lake = build_resources(settings)["lake"]
    assert "very-secret-value-42" not in repr(lake)  # resource config holds no keys at all


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FINKS_ENV": "s3"}, "AWS_ENDPOINT_URL"),
        ({**S3_ENV, "AWS_SECRET_ACCESS_KEY": ""}, "AWS_SECRET_ACCESS_KEY"),
        ({**S3_ENV, "AWS_ENDPOINT_URL": "ftp://x"}, "AWS_ENDPOINT_URL"),
        ({**S3_ENV, "FINKS_BRONZE_BUCKET": "../etc"}, "FINKS_BRONZE_BUCKET"),
        ({"FINKS_ENV": "azure"}, "FINKS_ENV"),
        ({"FINKS_ENV": "aws", "FINKS_GOLD_GLUE_DATABASE": "finks-gold"}, "FINKS_GOLD_GLUE_DATABASE"),
        ({"FINKS_ENV": "aws", "FINKS_GLUE_DATABASE": "Finks"}, "FINKS_GLUE_DATABASE"),
    ],
)
def test_unusable_storage_settings_fail_clearly(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        FinksSettings.from_env(environ)


def test_aws_mode_needs_no_endpoint_and_picks_the_athena_target() -> None:
    settings = FinksSettings.from_env({"FINKS_ENV": "aws", "AWS_REGION": "eu-west-1"})
    assert settings.object_store.endpoint_url is None
    assert settings.object_store.gold_glue_database == "finks_gold"  # <FINKS_GLUE_DATABASE>_gold
    assert not settings.object_store.create_missing_buckets
    resources = build_resources(settings)
    assert resources["dbt"].target == DBT_TARGETS["aws"] == "athena"
    assert resources["lake"].env == "aws" and resources["lake"].region == "eu-west-1"
    assert build_resources(FinksSettings.from_env({}))["dbt"].target == "duckdb"
    assert build_resources(FinksSettings.from_env(S3_ENV))["dbt"].target == "duckdb_s3"


def test_dbt_subprocess_gets_the_configured_buckets_not_the_callers_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FINKS_GOLD_BUCKET", "stale-value-from-the-shell")
    monkeypatch.setenv("FINKS_GOLD_GLUE_DATABASE", "stale_gold")
    settings = FinksSettings.from_env({"FINKS_ENV": "aws", "FINKS_GOLD_BUCKET": "prod-gold",
                                       "FINKS_GLUE_DATABASE": "finks_prod",
                                       "AWS_REGION": "eu-west-1"})
    lake = build_resources(settings)["lake"]
    with lake.dbt_environment():
        assert (os.environ["FINKS_GOLD_BUCKET"], os.environ["AWS_REGION"]) == ("prod-gold", "eu-west-1")
        assert os.environ["FINKS_GOLD_GLUE_DATABASE"] == "finks_prod_gold"  # the athena schema
    assert os.environ["FINKS_GOLD_GLUE_DATABASE"] == "stale_gold"
    assert os.environ["FINKS_GOLD_BUCKET"] == "stale-value-from-the-shell"  # restored afterwards
    s3_lake = build_resources(FinksSettings.from_env(S3_ENV))["lake"]
    with s3_lake.dbt_environment():
        assert os.environ["FINKS_S3_ENDPOINT_HOST"] == "127.0.0.1:9000"
        assert os.environ["FINKS_S3_USE_SSL"] == "false"
        assert os.environ["FINKS_DUCKDB_HTTPFS"].endswith("httpfs.duckdb_extension")
        assert "very-secret-value-42" not in str(dict(os.environ))  # keys are not re-exported
