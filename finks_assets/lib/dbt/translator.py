"""How dbt nodes become Dagster asset keys and groups: the model's top folder decides.

``models/staging/...`` -> layer ``staging``, ``models/intermediate/...`` -> ``intermediate``,
``models/marts/...`` -> ``gold`` (the schema the marts land in), and seeds -> ``gold``. A model
keys as ``[layer, name]`` (``gold/fct_daily_bars``) and joins the group of its layer, so the
lineage graph reads bronze -> silver -> staging -> intermediate -> gold. A model outside these
folders is an error at load time (``dg check defs`` reports it), never a silent default.
Sources keep dagster-dbt's mapping, i.e. their ``meta.dagster.asset_key`` (the silver assets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator

LAYER_BY_FOLDER = {"staging": "staging", "intermediate": "intermediate", "marts": "gold"}
SEED_LAYER = "gold"


class FinksDbtTranslator(DagsterDbtTranslator):
    """Keys dbt nodes as [layer, name] and groups them by layer, both from the folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([layer(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return None
        return layer(dbt_resource_props)


def layer(props: Mapping[str, Any]) -> str:
    """The layer of a model or seed, from its top folder (``fqn`` = [project, folder, ..., name])."""
    if props["resource_type"] == "seed":
        return SEED_LAYER
    fqn = props["fqn"]
    folder = fqn[1] if len(fqn) > 2 else None
    if folder not in LAYER_BY_FOLDER:
        raise ValueError(
            f"dbt {props['resource_type']} {props['name']} is in models/{folder or ''}: put it "
            f"under one of models/{{{','.join(LAYER_BY_FOLDER)}}}/ so it gets a layer"
        )
    return LAYER_BY_FOLDER[folder]
