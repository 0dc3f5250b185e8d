"""The one place that reads Finks' environment variables.

Everything else receives a :class:`FinksSettings` (or resources built from it by
:func:`finks_assets.resources.factory.build_resources`). Reading the environment in exactly one
function is what keeps a prod deployment from silently mixing values from two places.
Nothing here runs at import time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from finks_assets.quality.ops_settings import (
    SLACK_TOKEN_VAR,
    WEBHOOK_URL_VAR,
    OpsSettings,
    parse_quality_overrides,
)
from finks_assets.sources.fmp.config import DEFAULT_RATE_LIMIT_PER_MINUTE, FmpSettings
from finks_assets.storage_settings import (
    DEFAULT_BUCKETS,
    DEFAULT_GLUE_DATABASE,
    DEFAULT_REGION,
    GOLD_GLUE_DATABASE_SUFFIX,
    ObjectStoreSettings,
)
from finks_assets.tickers import parse_universe

FinksEnv = Literal["local", "s3", "aws"]
SourceName = Literal["synthetic", "yfinance", "fmp"]

DEFAULT_UNIVERSE_FILE = Path(__file__).parent / "data" / "universe.txt"
VALID_ENVS: tuple[str, ...] = ("local", "s3", "aws")
VALID_SOURCES: tuple[str, ...] = ("synthetic", "yfinance", "fmp")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


class SettingsError(ValueError):
    """An environment variable holds a value Finks cannot use."""


@dataclass(frozen=True)
class FinksSettings:
    env: FinksEnv
    data_dir: Path
    source: SourceName
    universe: tuple[str, ...]
    synthetic_seed: int = 7
    api_port: int = 8000
    api_key_store: Path | None = None  # None: $FINKS_DATA_DIR/api/keys.json
    object_store: ObjectStoreSettings | None = None  # None in local mode; see storage_settings
    ops: OpsSettings = OpsSettings()  # logs, alerts, quality thresholds; see _ops
    fmp: FmpSettings = FmpSettings()  # FMP_API_KEY (secret), FMP_BASE_URL, rate limit; see _fmp
    universe_spec: str = ""  # FINKS_UNIVERSE as given, so a sensor can re-read the file
    athena_workgroup: str = "primary"  # FINKS_ATHENA_WORKGROUP, for the API's Athena reader
    athena_results_uri: str | None = None  # FINKS_ATHENA_RESULTS_URI; None: <gold>/athena-results/

    @property
    def api_key_store_path(self) -> Path:
        return self.api_key_store or self.data_dir / "api" / "keys.json"

    @property
    def lake_root(self) -> Path:
        return self.data_dir / "lake"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FinksSettings:
        environ = os.environ if environ is None else environ
        env = environ.get("FINKS_ENV", "local").strip().lower()
        if env not in VALID_ENVS:
            raise SettingsError(f"FINKS_ENV={env!r} is not one of {', '.join(VALID_ENVS)}")
        source = environ.get("FINKS_SOURCE", "synthetic").strip().lower()
        if source not in VALID_SOURCES:
            raise SettingsError(
                f"FINKS_SOURCE={source!r} is not one of {', '.join(VALID_SOURCES)}"
            )
        seed_text = environ.get("FINKS_SYNTHETIC_SEED", "7")
        try:
            seed = int(seed_text)
        except ValueError as exc:
            raise SettingsError(f"FINKS_SYNTHETIC_SEED={seed_text!r} is not an integer") from exc
        universe_spec = environ.get("FINKS_UNIVERSE") or str(DEFAULT_UNIVERSE_FILE)
        universe = parse_universe(universe_spec)
        data_dir = Path(environ.get("FINKS_DATA_DIR") or ".finks").expanduser().absolute()
        port_text = environ.get("FINKS_API_PORT", "8000")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SettingsError(f"FINKS_API_PORT={port_text!r} is not a TCP port (1-65535)")
        key_store = environ.get("FINKS_API_KEY_STORE")
        return cls(
            env=env,  # type: ignore[arg-type]
            data_dir=data_dir,
            source=source,  # type: ignore[arg-type]
            universe=tuple(universe),
            synthetic_seed=seed,
            api_port=int(port_text),
            api_key_store=Path(key_store).expanduser().absolute() if key_store else None,
            object_store=_object_store(env, environ),
            ops=_ops(environ),
            fmp=_fmp(source, environ),
            universe_spec=universe_spec,
            **_athena(environ),
        )


def _athena(environ: Mapping[str, str]) -> dict[str, str | None]:
    """Athena workgroup and query-results location (what deploy/infra exports in aws mode)."""
    workgroup = (environ.get("FINKS_ATHENA_WORKGROUP") or "primary").strip()
    if not re.fullmatch(r"[A-Za-z0-9._\-]{1,128}", workgroup):
        raise SettingsError(f"FINKS_ATHENA_WORKGROUP={workgroup!r} is not an Athena workgroup name")
    results = (environ.get("FINKS_ATHENA_RESULTS_URI") or "").strip() or None
    if results is not None and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/\S*)?", results):
        raise SettingsError(f"FINKS_ATHENA_RESULTS_URI={results!r} is not an s3://bucket/prefix/ URI")
    return {"athena_workgroup": workgroup, "athena_results_uri": results}


def _fmp(source: str, environ: Mapping[str, str]) -> FmpSettings:
    """FMP's key (a secret: kept as SecretStr, never echoed), base URL and plan rate limit."""
    key = (environ.get("FMP_API_KEY") or "").strip()
    if source == "fmp" and not key:
        raise SettingsError("FINKS_SOURCE=fmp needs FMP_API_KEY")
    base_url = (environ.get("FMP_BASE_URL") or FmpSettings.base_url).strip().rstrip("/")
    if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
        raise SettingsError(f"FMP_BASE_URL={base_url!r} is not an http(s)://host[:port] URL")
    rate_text = environ.get("FMP_RATE_LIMIT_PER_MINUTE") or str(DEFAULT_RATE_LIMIT_PER_MINUTE)
    if not rate_text.isdigit() or int(rate_text) < 1:
        raise SettingsError(f"FMP_RATE_LIMIT_PER_MINUTE={rate_text!r} is not a positive integer")
    return FmpSettings(
        api_key=SecretStr(key) if key else None, base_url=base_url,
        rate_limit_per_minute=int(rate_text),
    )


def _ops(environ: Mapping[str, str]) -> OpsSettings:
    """Log format, alert targets (configured or not, never their secret) and thresholds."""
    log_format = (environ.get("FINKS_LOG_FORMAT") or "text").strip().lower()
    if log_format not in ("text", "json"):
        raise SettingsError(f"FINKS_LOG_FORMAT={log_format!r} is not one of text, json")
    try:
        overrides = parse_quality_overrides(environ)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    return OpsSettings(
        log_format=log_format,  # type: ignore[arg-type]
        quality_overrides=overrides,
        webhook_configured=bool((environ.get(WEBHOOK_URL_VAR) or "").strip()),
        slack_configured=bool((environ.get(SLACK_TOKEN_VAR) or "").strip()),
        slack_channel=(environ.get("FINKS_SLACK_CHANNEL") or "#finks-alerts").strip(),
    )


def _glue_database(environ: Mapping[str, str], variable: str, default: str) -> str:
    """A Glue/Athena database name: lower case, digits and '_' only (Athena rejects '-')."""
    name = (environ.get(variable) or default).strip()
    if not re.fullmatch(r"[a-z0-9_]{1,255}", name):
        raise SettingsError(f"{variable}={name!r} is not a Glue database name")
    return name


def _object_store(env: str, environ: Mapping[str, str]) -> ObjectStoreSettings | None:
    """S3/AWS settings from the standard AWS variables plus one bucket variable per zone."""
    if env == "local":
        return None
    endpoint = (environ.get("AWS_ENDPOINT_URL") or "").strip() or None
    if env == "s3" and endpoint is None:
        raise SettingsError("FINKS_ENV=s3 needs AWS_ENDPOINT_URL (e.g. http://127.0.0.1:9000)")
    if endpoint and (urlsplit(endpoint).scheme not in ("http", "https") or not urlsplit(endpoint).netloc):
        raise SettingsError(f"AWS_ENDPOINT_URL={endpoint!r} is not an http(s)://host[:port] URL")
    buckets = {
        zone: (environ.get(f"FINKS_{zone.upper()}_BUCKET") or default).strip()
        for zone, default in DEFAULT_BUCKETS.items()
    }
    for zone, bucket in buckets.items():
        if not _BUCKET_NAME.fullmatch(bucket):
            raise SettingsError(f"FINKS_{zone.upper()}_BUCKET={bucket!r} is not a valid S3 bucket name")
    glue_database = _glue_database(environ, "FINKS_GLUE_DATABASE", DEFAULT_GLUE_DATABASE)
    gold_glue_database = _glue_database(environ, "FINKS_GOLD_GLUE_DATABASE",
                                        glue_database + GOLD_GLUE_DATABASE_SUFFIX)
    key_id, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if env == "s3" and not (key_id and secret):
        raise SettingsError("FINKS_ENV=s3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    return ObjectStoreSettings(
        env=env,  # type: ignore[arg-type]
        endpoint_url=endpoint,
        region=(environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION).strip(),
        bronze_bucket=buckets["bronze"],
        silver_bucket=buckets["silver"],
        gold_bucket=buckets["gold"],
        glue_database=glue_database,
        gold_glue_database=gold_glue_database,
        access_key_id=SecretStr(key_id) if key_id else None,
        secret_access_key=SecretStr(secret) if secret else None,
    )
