"""How dbt nodes become Dagster asset keys and groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator

_LAYER_BY_FOLDER = {"staging": "staging", "intermediate": "intermediate", "marts": "gold"}


class FinksDbtTranslator(DagsterDbtTranslator):
    """Keys dbt nodes as [layer, name] so gold tables read as ``gold/fct_daily_bars``."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([_layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        return _layer(dbt_resource_props)


def _layer(props: Mapping[str, Any]) -> str:
    fqn = props.get("fqn", [])
    for part in fqn[1:-1]:
        if part in _LAYER_BY_FOLDER:
            return _LAYER_BY_FOLDER[part]
    return "gold"
