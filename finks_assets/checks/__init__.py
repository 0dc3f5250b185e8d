"""Quality gates. The rules are plain functions so they can be tested without Dagster."""
