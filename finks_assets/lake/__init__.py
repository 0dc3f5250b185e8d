"""Lake IO: where bronze/silver files live and how they are written atomically."""
