"""Intraday stream: replayed micro-batches in the landing area, the live state a small consumer
keeps current, and the end-of-day compaction into silver. No Dagster definitions."""
