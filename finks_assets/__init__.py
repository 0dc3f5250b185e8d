"""Finks: a market-data platform on Dagster (sources -> bronze -> silver -> dbt gold)."""
