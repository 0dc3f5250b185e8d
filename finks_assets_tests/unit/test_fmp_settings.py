"""FMP settings: validated in settings.py, the key a secret everywhere it is held."""

from __future__ import annotations

import dagster as dg
import pytest

from finks_assets.lib.resources.factory import build_resources
from finks_assets.lib.settings import FinksSettings, SettingsError

KEY = "settings-secret-314"


def settings(**env: str) -> FinksSettings:
    return FinksSettings.from_env({"FINKS_UNIVERSE": "AAPL", "FINKS_DATA_DIR": "/tmp/finks-x", **env})


def test_fmp_source_needs_a_key():
    with pytest.raises(SettingsError, match="FMP_API_KEY"):
        settings(FINKS_SOURCE="fmp")


@pytest.mark.parametrize(("name", "value"), [("FMP_BASE_URL", "ftp://x"),
                                             ("FMP_BASE_URL", "not a url"),
                                             ("FMP_RATE_LIMIT_PER_MINUTE", "0"),
                                             ("FMP_RATE_LIMIT_PER_MINUTE", "fast")])
def test_bad_values_are_refused(name, value):
    with pytest.raises(SettingsError, match=name):
        settings(**{name: value})


def test_key_is_secret_in_settings_and_resource_config():
    s = settings(FINKS_SOURCE="fmp", FMP_API_KEY=KEY, FMP_BASE_URL="http://127.0.0.1:9/",
                 FMP_RATE_LIMIT_PER_MINUTE="750")
    assert s.fmp.base_url == "http://127.0.0.1:9" and s.fmp.rate_limit_per_minute == 750
    assert s.fmp.api_key.get_secret_value() == KEY and KEY not in repr(s)
    fmp = build_resources(s)["fmp"]
    assert isinstance(fmp.api_key, dg.EnvVar) and fmp.api_key.env_var_name == "FMP_API_KEY"
    assert KEY not in repr(fmp)
