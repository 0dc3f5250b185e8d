"""A small filesystem layer over pyarrow.fs so local disk and S3 share one code path.

Callers always name files by their lake-relative path (``silver/bars_1m/trade_date=.../x``).
Locally that path sits under one root directory; on S3 its first segment (the zone) picks the
zone's bucket and the whole relative path is the object key, so the layout is identical.

This is the lake's read side (paths, listings, reads); every write goes through
:class:`~finks_assets.lib.lake.writer.LakeWriter`, which writes atomically. Listings skip the
writer's ``.tmp-*`` files, so a reader never opens a half-written one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs



@dataclass(frozen=True)
class LakeStore:
    """Files under ``root`` on ``filesystem``; on S3, ``zone_roots`` maps each zone to a bucket."""

    filesystem: pafs.FileSystem
    root: str
    zone_roots: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def local(cls, root: str) -> LakeStore:
        import pyarrow.fs as pafs
        return cls(pafs.LocalFileSystem(), root.rstrip("/"))

    @classmethod
    def s3(cls, filesystem: pafs.FileSystem, zone_buckets: Mapping[str, str]) -> LakeStore:
        """Zone ``z`` lives in bucket ``zone_buckets[z]`` under the key prefix ``z/``."""
        return cls(filesystem, root="", zone_roots=dict(zone_buckets))

    @property
    def is_local(self) -> bool:
        import pyarrow.fs as pafs
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def path(self, relative: str) -> str:
        relative = relative.strip("/")
        if not self.zone_roots:
            return f"{self.root}/{relative}"
        zone = relative.split("/", 1)[0]
        if zone not in self.zone_roots:
            raise ValueError(
                f"lake path {relative!r} is in no known zone ({sorted(self.zone_roots)}); "
                "map new zones to a bucket in finks_assets.lib.storage_settings.ZONE_BUCKET"
            )
        return f"{self.zone_roots[zone]}/{relative}"

    def zone_uri(self, zone: str) -> str:
        """The root that ``<zone>/...`` paths hang off, as DuckDB/dbt address it (``lake_root``)."""
        return self.uri(zone).rsplit("/", 1)[0]

    def uri(self, relative: str) -> str:
        """An address DuckDB or dbt can read (a local path, or s3://...)."""
        return self.path(relative) if self.is_local else f"s3://{self.path(relative)}"

    def list_files(self, relative_dir: str, suffix: str = ".parquet", recursive: bool = False
                   ) -> list[str]:
        """Finished files ending in ``suffix`` under a directory, sorted; [] if it is absent."""
        import pyarrow.fs as pafs
        selector = pafs.FileSelector(self.path(relative_dir), allow_not_found=True,
                                     recursive=recursive)
        return sorted(
            info.path for info in self.filesystem.get_file_info(selector)
            if info.type == pafs.FileType.File
            and info.base_name.endswith(suffix)
            and not info.base_name.startswith(".tmp-")
        )

    def list_parquet(self, relative_dir: str) -> list[str]:
        """Finished Parquet files directly under a directory, sorted; [] if it is absent."""
        return self.list_files(relative_dir)

    def read_parquet(self, full_path: str) -> pa.Table:
        import pyarrow.parquet as pq
        return pq.read_table(full_path, filesystem=self.filesystem)
