"""Quality gates around the checks: thresholds, per-partition gate decisions, reports."""
