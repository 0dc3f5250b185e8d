"""The one place that reads Finks' environment variables, on pydantic-settings.

Everything else receives a :class:`FinksSettings` (or resources built from it by
:func:`finks_assets.lib.resources.factory.build_resources`). Only :meth:`FinksSettings.from_env`
reads variables, so a prod deployment cannot silently mix values from two places; nothing here
runs at import time.

Each field is one variable: ``FINKS_<FIELD>`` through ``env_prefix``; the standard ``AWS_*``
and ``FMP_*`` names through ``validation_alias``; quality thresholds through the nested
delimiter (``FINKS_QUALITY__BARS_1M__MAX_ABS_RETURN=0.3``). Secrets are ``SecretStr``. A blank
variable counts as unset (the default applies), except the integers, where it is an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import load_dotenv
from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from finks_assets.lib.ops_settings import SLACK_TOKEN_VAR, WEBHOOK_URL_VAR, LogFormat, OpsSettings
from finks_assets.lib.sources.fmp.config import (
    DEFAULT_BASE_URL,
    DEFAULT_RATE_LIMIT_PER_MINUTE,
    FmpSettings,
)
from finks_assets.lib.storage_settings import (
    DEFAULT_BUCKETS,
    DEFAULT_GLUE_DATABASE,
    DEFAULT_REGION,
    GOLD_GLUE_DATABASE_SUFFIX,
    ObjectStoreSettings,
)
from finks_assets.lib.tickers import InvalidTickerError, parse_universe

FinksEnv = Literal["local", "s3", "aws"]
SourceName = Literal["synthetic", "yfinance", "fmp"]
RunExecutor = Literal["in_process", "multiprocess"]

DEFAULT_UNIVERSE_FILE = Path(__file__).parent / "data" / "universe.txt"
# A bronze/silver run's peak memory grows with the tickers x days it holds: 0.15 MB per
# ticker-day (one process, bronze + silver: 200 x 42 days 1.65 GB, 500 x 21 2.03 GB, 500 x 42
# 3.64 GB). Without FINKS_PARTITIONS_PER_RUN a run gets as many days as keep it within this
# budget (200 tickers x 42 days: two such runs plus `dagster dev` peaked at 3.61-4.03 GB),
# capped at a quarter: fewer, larger runs finish a backfill sooner (200 x 252 on 2 cores: 3.01x
# the single run with 21-day runs, 1.83-2.12x with 42; 52-day runs: 2.22x and 4.39 GB;
# bench/findings.md).
RUN_TICKER_DAYS = 8_400
MAX_RUN_DAYS = 63
# Never echoed in an error, whatever goes wrong with them.
_SECRETS = frozenset({"FMP_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                      WEBHOOK_URL_VAR, SLACK_TOKEN_VAR})


class SettingsError(ValueError):
    """An environment variable holds a value Finks cannot use."""


def _blank_is_unset(value: Any) -> Any:
    """``FOO=`` (a shell, a blank line in .env, a Helm value left empty) means "the default"."""
    if isinstance(value, str) and not (value := value.strip()):
        raise PydanticUseDefault()
    return value


def _matching(pattern: str, what: str) -> AfterValidator:
    def check(value: str | None) -> str | None:
        if value is not None and not re.fullmatch(pattern, value):
            raise ValueError(f"not {what}")
        return value
    return AfterValidator(check)


def _universe(spec: Any) -> Any:
    """FINKS_UNIVERSE (a comma list or a file) -> validated tickers; InvalidTickerError if not."""
    return tuple(parse_universe(spec)) if isinstance(spec := _blank_is_unset(spec), str) else spec


Blank = BeforeValidator(_blank_is_unset)
Lower = BeforeValidator(lambda value: value.lower() if isinstance(value, str) else value)
Absolute = AfterValidator(lambda path: path and path.expanduser().absolute())
Text = Annotated[str, Blank]
Secret = Annotated[SecretStr | None, Blank]
HttpUrl = _matching(r"https?://[^/?#\s]+\S*", "an http(s)://host[:port] URL")
Bucket = Annotated[str, Blank, _matching(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", "a valid S3 bucket name")]
# Glue/Athena database names: lower case, digits and '_' only (Athena rejects '-').
GlueDatabase = Annotated[str | None, Blank, _matching(r"[a-z0-9_]{1,255}", "a Glue database name")]


class FinksSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FINKS_", env_nested_delimiter="__", frozen=True, hide_input_in_errors=True
    )

    env: Annotated[FinksEnv, Blank, Lower] = "local"
    source: Annotated[SourceName, Blank, Lower] = "synthetic"
    data_dir: Annotated[Path, Blank, Absolute] = Path(".finks")
    # FINKS_UNIVERSE feeds both: the tickers, and the spec as given so a sensor can re-read the file.
    universe: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_universe)] = Field(
        default_factory=lambda: tuple(parse_universe(str(DEFAULT_UNIVERSE_FILE))))
    universe_spec: Text = Field(str(DEFAULT_UNIVERSE_FILE), validation_alias="FINKS_UNIVERSE")
    synthetic_seed: int = 7
    partitions_per_run: Annotated[PositiveInt | None, Blank] = None  # None: see run_days
    # How a launched run executes its steps (finks_assets/definitions.py says why in_process).
    run_executor: Annotated[RunExecutor, Blank, Lower] = "in_process"
    # The trailing re-check: re-fetch the last N sessions after the close (0 = off) and warn
    # on restated values whose relative change exceeds the tolerance (0 = any change).
    restatement_lookback_sessions: NonNegativeInt = 5
    restatement_tolerance: Annotated[NonNegativeFloat, Blank] = 0.0
    api_port: int = Field(8000, ge=1, le=65535)
    api_key_store: Annotated[Path | None, Blank, Absolute] = None  # see api_key_store_path
    athena_workgroup: Annotated[str, Blank, _matching(r"[A-Za-z0-9._\-]{1,128}",
                                                      "an Athena workgroup name")] = "primary"
    # None: s3://<gold bucket>/athena-results/ (finks_api.config)
    athena_results_uri: Annotated[str | None, Blank, _matching(
        r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/\S*)?", "an s3://bucket/prefix/ URI")] = None

    # Logs, alerts and quality thresholds -> .ops. The alert secrets reach Dagster as EnvVar.
    log_format: Annotated[LogFormat, Blank, Lower] = "text"
    alert_webhook_url: Secret = Field(None, validation_alias=WEBHOOK_URL_VAR)
    slack_token: Secret = Field(None, validation_alias=SLACK_TOKEN_VAR)
    slack_channel: Text = "#finks-alerts"
    # FINKS_QUALITY__<DATASET>__<FIELD>; names are checked against the thresholds by
    # quality.thresholds.build_quality_resource (which keeps Dagster out of this module).
    quality: dict[str, dict[str, str]] = {}

    # FMP (its own variable names) -> .fmp
    fmp_api_key: Secret = Field(None, validation_alias="FMP_API_KEY")
    fmp_base_url: Annotated[str, Blank, HttpUrl, AfterValidator(lambda url: url.rstrip("/"))] = (
        Field(DEFAULT_BASE_URL, validation_alias="FMP_BASE_URL"))
    fmp_rate_limit_per_minute: Annotated[PositiveInt, Blank] = Field(
        DEFAULT_RATE_LIMIT_PER_MINUTE, validation_alias="FMP_RATE_LIMIT_PER_MINUTE")

    # Object store (s3/aws modes; the standard AWS variables) -> .object_store
    aws_endpoint_url: Annotated[str | None, Blank, HttpUrl] = Field(
        None, validation_alias="AWS_ENDPOINT_URL")
    aws_access_key_id: Secret = Field(None, validation_alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: Secret = Field(None, validation_alias="AWS_SECRET_ACCESS_KEY")
    aws_region: Text = Field(DEFAULT_REGION,
                             validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    bronze_bucket: Bucket = DEFAULT_BUCKETS["bronze"]
    silver_bucket: Bucket = DEFAULT_BUCKETS["silver"]
    gold_bucket: Bucket = DEFAULT_BUCKETS["gold"]
    glue_database: GlueDatabase = DEFAULT_GLUE_DATABASE
    gold_glue_database: GlueDatabase = None  # None: <glue_database>_gold

    @model_validator(mode="after")
    def _needed_together(self) -> FinksSettings:
        if self.env == "s3" and self.aws_endpoint_url is None:
            raise ValueError("FINKS_ENV=s3 needs AWS_ENDPOINT_URL (e.g. http://127.0.0.1:9000)")
        if self.env == "s3" and not (self.aws_access_key_id and self.aws_secret_access_key):
            raise ValueError("FINKS_ENV=s3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        if self.source == "fmp" and self.fmp_api_key is None:
            raise ValueError("FINKS_SOURCE=fmp needs FMP_API_KEY")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FinksSettings:
        """Settings from ``environ`` alone (tests), or from ``os.environ`` plus ``./.env``.

        The ``.env`` is loaded into ``os.environ`` without overriding what is already set, as
        ``dagster dev`` does: secrets reach Dagster as ``EnvVar`` references and AWS keys reach
        boto3 and dbt through the environment, so the CLI and the API need them there too.
        """
        if environ is None:
            load_dotenv(Path.cwd() / ".env", override=False)
            environ = os.environ
        try:
            return cls(**_MappingSource(cls, environ)())
        except ValidationError as exc:
            for error in exc.errors():
                if isinstance(cause := error.get("ctx", {}).get("error"), InvalidTickerError):
                    raise cause from None  # FINKS_UNIVERSE: the tickers module's own error
            raise SettingsError(_describe(exc)) from None  # not chained: it holds raw inputs
        except SourceError:  # FINKS_QUALITY (the one nested field) set to text that is not JSON
            raise SettingsError("FINKS_QUALITY is not valid JSON; set "
                                "FINKS_QUALITY__<DATASET>__<FIELD>=<value> instead") from None

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: Any,
                                   **_: Any) -> tuple[Any, ...]:
        """Only what from_env passes: constructing the class never reads the process environment."""
        return (init_settings,)

    @property
    def run_days(self) -> int:
        """Days per bronze/silver backfill run: FINKS_PARTITIONS_PER_RUN, else sized by memory."""
        if self.partitions_per_run is not None:
            return self.partitions_per_run
        return max(1, min(MAX_RUN_DAYS, RUN_TICKER_DAYS // max(1, len(self.universe))))

    @property
    def api_key_store_path(self) -> Path:
        return self.api_key_store or self.data_dir / "api" / "keys.json"

    @property
    def lake_root(self) -> Path:
        return self.data_dir / "lake"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @cached_property
    def object_store(self) -> ObjectStoreSettings | None:
        """S3/AWS settings; None in local mode."""
        if self.env == "local":
            return None
        return ObjectStoreSettings(
            env=self.env, endpoint_url=self.aws_endpoint_url, region=self.aws_region,
            bronze_bucket=self.bronze_bucket, silver_bucket=self.silver_bucket,
            gold_bucket=self.gold_bucket, glue_database=self.glue_database,
            gold_glue_database=self.gold_glue_database
            or self.glue_database + GOLD_GLUE_DATABASE_SUFFIX,
            access_key_id=self.aws_access_key_id, secret_access_key=self.aws_secret_access_key,
        )

    @cached_property
    def ops(self) -> OpsSettings:
        """Log format, quality overrides, and whether each alert target is configured (no secret)."""
        return OpsSettings(
            log_format=self.log_format, quality_overrides=self.quality,
            webhook_configured=self.alert_webhook_url is not None,
            slack_configured=self.slack_token is not None, slack_channel=self.slack_channel,
        )

    @cached_property
    def fmp(self) -> FmpSettings:
        return FmpSettings(api_key=self.fmp_api_key, base_url=self.fmp_base_url,
                           rate_limit_per_minute=self.fmp_rate_limit_per_minute)


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source (prefix, aliases, nesting) over any mapping."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)  # loads os.environ into env_vars: replaced by the mapping
        self.env_vars = {name.lower(): value for name, value in environ.items()}  # case-insensitive


def _describe(exc: ValidationError) -> str:
    """``VARIABLE='value': what is wrong``, one per error; a secret's value is never shown."""
    lines = []
    for error in exc.errors(include_url=False):
        message, loc = error["msg"].removeprefix("Value error, "), [str(p) for p in error["loc"]]
        if not loc:  # a rule across variables: its message names them
            lines.append(message)
            continue
        # An alias is the variable itself; a field is FINKS_<FIELD>[__<KEY>...] (quality nests).
        name = loc[0] if loc[0].isupper() else "__".join([f"FINKS_{loc[0]}", *loc[1:]]).upper()
        if name.startswith("FINKS_QUALITY"):
            message = "expected FINKS_QUALITY__<DATASET>__<FIELD>=<value>"
        lines.append(f"{name}={'<secret>' if name in _SECRETS else repr(error['input'])}: {message}")
    return "; ".join(lines)
