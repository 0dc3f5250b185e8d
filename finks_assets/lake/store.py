"""A small filesystem layer over pyarrow.fs so local disk and S3 share one code path.

Callers always name files by their lake-relative path (``silver/bars_1m/trade_date=.../x``).
Locally that path sits under one root directory; on S3 its first segment (the zone) picks the
zone's bucket and the whole relative path is the object key, so the layout is identical.

Readers must never see a half-written file. Locally a file is written under a temporary
name and renamed into place (rename is atomic on POSIX). On S3 a single object PUT (or a
completed multipart upload) is atomic by itself, so the same code writes straight to the key.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

PARQUET_ROW_GROUP_SIZE = 256_000


@dataclass(frozen=True)
class LakeStore:
    """Files under ``root`` on ``filesystem``; on S3, ``zone_roots`` maps each zone to a bucket."""

    filesystem: pafs.FileSystem
    root: str
    zone_roots: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def local(cls, root: str) -> LakeStore:
        return cls(pafs.LocalFileSystem(), root.rstrip("/"))

    @classmethod
    def s3(cls, filesystem: pafs.FileSystem, zone_buckets: Mapping[str, str]) -> LakeStore:
        """Zone ``z`` lives in bucket ``zone_buckets[z]`` under the key prefix ``z/``."""
        return cls(filesystem, root="", zone_roots=dict(zone_buckets))

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)

    def path(self, relative: str) -> str:
        relative = relative.strip("/")
        if not self.zone_roots:
            return f"{self.root}/{relative}"
        zone = relative.split("/", 1)[0]
        if zone not in self.zone_roots:
            raise ValueError(
                f"lake path {relative!r} is in no known zone ({sorted(self.zone_roots)}); "
                "map new zones to a bucket in finks_assets.storage_settings.ZONE_BUCKET"
            )
        return f"{self.zone_roots[zone]}/{relative}"

    def zone_uri(self, zone: str) -> str:
        """The root that ``<zone>/...`` paths hang off, as DuckDB/dbt address it (``lake_root``)."""
        return self.uri(zone).rsplit("/", 1)[0]

    def uri(self, relative: str) -> str:
        """An address DuckDB or dbt can read (a local path, or s3://...)."""
        return self.path(relative) if self.is_local else f"s3://{self.path(relative)}"

    def write_parquet(self, relative: str, table: pa.Table) -> str:
        """Write ``table`` to ``relative`` atomically; return the full path."""
        final = self.path(relative)
        parent = final.rsplit("/", 1)[0]
        if not self.is_local:  # S3 has no directories: creating one would only add marker keys
            pq.write_table(table, final, filesystem=self.filesystem,
                           row_group_size=PARQUET_ROW_GROUP_SIZE, compression="zstd")
            return final
        self.filesystem.create_dir(parent, recursive=True)
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}.parquet"
        try:
            pq.write_table(table, tmp, filesystem=self.filesystem,
                           row_group_size=PARQUET_ROW_GROUP_SIZE, compression="zstd")
            self.filesystem.move(tmp, final)
        except BaseException:
            self._delete_quietly(tmp)
            raise
        return final

    def list_parquet(self, relative_dir: str) -> list[str]:
        """Finished Parquet files directly under a directory, sorted; [] if it is absent."""
        selector = pafs.FileSelector(self.path(relative_dir), allow_not_found=True)
        infos = self.filesystem.get_file_info(selector)
        return sorted(
            info.path for info in infos
            if info.type == pafs.FileType.File
            and info.base_name.endswith(".parquet")
            and not info.base_name.startswith(".tmp-")
        )

    def read_parquet(self, full_path: str) -> pa.Table:
        return pq.read_table(full_path, filesystem=self.filesystem)

    def replace_partition(self, relative_dir: str, table: pa.Table) -> str:
        """Overwrite a whole partition: the new file replaces ``part-0``; strays are removed."""
        written = self.write_parquet(f"{relative_dir}/part-0.parquet", table)
        for stray in self.list_parquet(relative_dir):
            if stray != written:
                self.filesystem.delete_file(stray)
        return written

    def _delete_quietly(self, full_path: str) -> None:
        try:
            self.filesystem.delete_file(full_path)
        except (FileNotFoundError, OSError):
            pass
