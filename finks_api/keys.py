"""API keys: created once, stored only as hashes, checked in constant time.

A key looks like ``fk_<key_id>_<secret>``. The key id is public (it appears in access logs and
``keys list``) and selects the record; the secret is 256 random bits, so a plain SHA-256 of
the whole key is enough (a slow password hash only helps low-entropy secrets). The store is a
small JSON file (mode 0600) rewritten atomically (temp file + ``os.replace``) under an
exclusive ``flock``, so concurrent ``finks-api keys`` commands cannot lose each other's writes
and the server never reads a half-written file. The server checks the file's mtime at most
once a second and re-reads it when it changed, so a revoke takes effect within a second,
without a restart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCOPES: tuple[str, ...] = ("prices:read", "portfolio:read")
KEY_PREFIX = "fk"
KEY_ID_PATTERN = re.compile(r"^[a-f0-9]{12}$")
KEY_PATTERN = re.compile(r"^fk_(?P<key_id>[a-f0-9]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
_DUMMY_HASH = hashlib.sha256(b"finks-api-no-such-key").hexdigest()


class KeyStoreError(ValueError):
    """A key-store operation got an unknown key id, an unknown scope or a corrupt file."""


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    key_sha256: str
    scopes: tuple[str, ...]
    created_at: str
    name: str = ""
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class CreatedKey:
    record: ApiKeyRecord
    key: str = field(repr=False)  # shown to the user once, never stored


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def validate_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(scopes))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown or not chosen:
        raise KeyStoreError(f"scopes must be one or more of {', '.join(SCOPES)}; got {unknown or 'none'}")
    return chosen


_REQUIRED_FIELDS = ("key_id", "key_sha256", "created_at")


def _parse_record(item: object) -> ApiKeyRecord | None:
    """One stored record, or None when it has the wrong shape (a hand-edited or foreign file).

    Checked field by field so that a bad store is a clear :class:`KeyStoreError` (503) rather
    than a ``TypeError`` deep in a request; the key id must look like one, as it is logged.
    """
    if not isinstance(item, dict):
        return None
    scopes, name, revoked_at = item.get("scopes"), item.get("name", ""), item.get("revoked_at")
    if not (
        all(isinstance(item.get(f), str) for f in _REQUIRED_FIELDS)
        and KEY_ID_PATTERN.fullmatch(item["key_id"])
        and isinstance(scopes, list) and all(isinstance(s, str) for s in scopes)
        and isinstance(name, str) and (revoked_at is None or isinstance(revoked_at, str))
    ):
        return None
    return ApiKeyRecord(key_id=item["key_id"], key_sha256=item["key_sha256"], scopes=tuple(scopes),
                        created_at=item["created_at"], name=name, revoked_at=revoked_at)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class KeyStore:
    """The JSON key file at ``path``; see the module docstring for the format and guarantees.

    ``recheck_interval``: seconds between checks of the file for changes (0: every call). The
    server uses 1 s, so a revoke takes effect within a second. Why not every request: the
    check is a ``stat`` on the event loop, which releases the GIL, and getting it back from
    the query threads can take a switch interval (5 ms). A stack sample of the server under the
    mixed load profile (bench/api_load.py, 20 clients, 10 s) found the event loop inside that
    ``stat`` in ~830 samples: more than all its other request handling together, and about
    as often as the query threads were inside DuckDB (940).
    """

    def __init__(self, path: Path, recheck_interval: float = 0.0) -> None:
        self.path = Path(path)
        self.recheck_interval = recheck_interval
        self._cache: dict[str, ApiKeyRecord] = {}
        self._cache_stamp: tuple[int, int, int] | None = None
        self._checked_at = float("-inf")
        self._cache_lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------
    def _read(self) -> dict[str, ApiKeyRecord]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeError, json.JSONDecodeError) as exc:
            raise KeyStoreError(f"key store {self.path} is unreadable: {exc}") from exc
        items = raw.get("keys") if isinstance(raw, dict) else None
        if not isinstance(items, list):
            raise KeyStoreError(f'key store {self.path} is malformed: expected {{"keys": [...]}}')
        records = {}
        for position, item in enumerate(items):
            record = _parse_record(item)
            if record is None:
                raise KeyStoreError(
                    f"key store {self.path} is malformed: keys[{position}] is not a key record "
                    f"({', '.join(_REQUIRED_FIELDS)} as text, scopes as a list)"
                )
            records[record.key_id] = record
        return records

    def records(self) -> dict[str, ApiKeyRecord]:
        """All records, re-read only when the file changed (at most one ``stat`` per
        ``recheck_interval``)."""
        if self._cache_stamp is not None and (
                time.monotonic() - self._checked_at < self.recheck_interval):
            return self._cache
        self._checked_at = time.monotonic()
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._cache_lock:
            if stamp != self._cache_stamp or stamp is None:
                self._cache = self._read() if stamp else {}
                self._cache_stamp = stamp
            return self._cache

    def authenticate(self, presented: str | None) -> ApiKeyRecord | None:
        """The active record for a presented key, or None (missing, malformed, unknown, revoked).

        The hash comparison always runs (against a dummy when the id is unknown) and uses
        ``hmac.compare_digest``, so timing does not tell which part was wrong.
        """
        if not presented:
            return None
        match = KEY_PATTERN.fullmatch(presented)
        record = self.records().get(match["key_id"]) if match else None
        expected = record.key_sha256 if record else _DUMMY_HASH
        ok = hmac.compare_digest(hash_key(presented), expected)
        if not (ok and record and record.active):
            return None
        return record

    # -- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, ApiKeyRecord]]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            records = self._read()
            yield records
            self._write(records)

    def _write(self, records: dict[str, ApiKeyRecord]) -> None:
        payload = {"version": 1, "keys": [asdict(r) for r in records.values()]}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(payload, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def create(self, scopes: Iterable[str], name: str = "") -> CreatedKey:
        chosen = validate_scopes(scopes)
        with self._locked() as records:
            key_id = secrets.token_hex(6)
            while key_id in records:
                key_id = secrets.token_hex(6)
            key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
            record = ApiKeyRecord(
                key_id=key_id, key_sha256=hash_key(key), scopes=chosen, created_at=_now(), name=name
            )
            records[key_id] = record
        return CreatedKey(record=record, key=key)

    def revoke(self, key_id: str) -> ApiKeyRecord:
        with self._locked() as records:
            record = records.get(key_id) if KEY_ID_PATTERN.fullmatch(key_id) else None
            if record is None:
                raise KeyStoreError(f"no API key with id {key_id!r}")
            if record.active:
                record = ApiKeyRecord(**{**asdict(record), "revoked_at": _now()})
                records[key_id] = record
        return record
