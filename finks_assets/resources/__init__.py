"""Dagster resources and the one factory that picks them per environment."""
