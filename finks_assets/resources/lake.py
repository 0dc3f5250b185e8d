"""The lake as a Dagster resource, so assets and IO managers never build paths themselves."""


import dagster as dg

from finks_assets.lake.store import LakeStore


class LakeResource(dg.ConfigurableResource):
    """Root of the bronze/silver/audit lake (``$FINKS_DATA_DIR/lake`` locally)."""

    root: str

    def store(self) -> LakeStore:
        return LakeStore.local(self.root)
