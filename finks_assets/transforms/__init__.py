"""Set-based transformations (DuckDB SQL over Arrow), free of Dagster so they test alone."""
