"""API keys: hashed at rest, checked in constant time, scoped, revocable; the finks-api CLI."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from finks_api import cli
from finks_api.keys import KEY_PATTERN, KeyStore, KeyStoreError, hash_key


def test_created_key_is_only_stored_as_a_hash(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "api" / "keys.json")
    created = store.create(["prices:read"], name="research")
    assert KEY_PATTERN.fullmatch(created.key)
    text = store.path.read_text()
    # the secret part by the key's own pattern: it may itself contain "_"
    assert created.key not in text and KEY_PATTERN.fullmatch(created.key)["secret"] not in text
    [saved] = json.loads(text)["keys"]
    assert saved["key_sha256"] == hash_key(created.key)
    assert saved["scopes"] == ["prices:read"] and saved["key_id"] == created.record.key_id
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["keys.json", "keys.json.lock"]
    assert created.key not in repr(created)


def test_authenticate_accepts_only_the_exact_active_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key = store.create(["prices:read", "portfolio:read"]).key
    record = store.authenticate(key)
    assert record is not None and record.scopes == ("prices:read", "portfolio:read")
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    other_id = "fk_" + "0" * 12 + key[15:]
    for wrong in (None, "", tampered, other_id, key + "x", key.upper(), "' OR 1=1--"):
        assert store.authenticate(wrong) is None


def test_revoke_takes_effect_in_a_running_server_without_restart(tmp_path: Path) -> None:
    server_view = KeyStore(tmp_path / "keys.json")
    admin = KeyStore(tmp_path / "keys.json")
    created = admin.create(["prices:read"])
    keep = admin.create(["prices:read"])
    assert server_view.authenticate(created.key) is not None
    revoked = admin.revoke(created.record.key_id)
    assert revoked.revoked_at is not None
    assert server_view.authenticate(created.key) is None  # re-read after the file changed
    assert server_view.authenticate(keep.key) is not None
    with pytest.raises(KeyStoreError, match="no API key"):
        admin.revoke("ffffffffffff")
    with pytest.raises(KeyStoreError, match="no API key"):
        admin.revoke("../../etc/passwd")


def test_unknown_or_missing_scopes_are_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    with pytest.raises(KeyStoreError, match="scopes"):
        store.create(["admin"])
    with pytest.raises(KeyStoreError, match="scopes"):
        store.create([])
    assert not store.path.exists()


def test_concurrent_creates_do_not_lose_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"

    def create_many() -> None:
        store = KeyStore(path)
        for _ in range(10):
            store.create(["prices:read"])

    threads = [threading.Thread(target=create_many) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(KeyStore(path).records()) == 30


def test_cli_prints_the_key_once_and_lists_ids_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FINKS_DATA_DIR", str(tmp_path / "finks"))
    monkeypatch.setenv("FINKS_UNIVERSE", "AAPL")
    assert cli.main(["keys", "create", "--scope", "prices:read", "--scope", "portfolio:read"]) == 0
    out = capsys.readouterr()
    key = out.out.strip()
    assert KEY_PATTERN.fullmatch(key)
    key_id = KEY_PATTERN.fullmatch(key)["key_id"]
    assert key_id in out.err and key not in out.err
    assert (tmp_path / "finks" / "api" / "keys.json").exists()

    assert cli.main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "active" in listing and key not in listing

    assert cli.main(["keys", "revoke", key_id]) == 0
    capsys.readouterr()
    assert cli.main(["keys", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert cli.main(["keys", "revoke", "nope"]) == 2
    with pytest.raises(SystemExit):
        cli.main(["keys", "create", "--scope", "admin"])


def test_api_settings_come_from_finks_settings(tmp_path: Path) -> None:
    from finks_api.config import ApiConfig
    from finks_assets.lib.settings import FinksSettings, SettingsError

    base = {"FINKS_DATA_DIR": str(tmp_path / "d"), "FINKS_UNIVERSE": "AAPL"}
    default = ApiConfig.from_settings(FinksSettings.from_env(base))
    assert default.port == 8000
    assert default.key_store_path == tmp_path / "d" / "api" / "keys.json"
    assert default.warehouse_path == tmp_path / "d" / "warehouse.duckdb"
    custom = ApiConfig.from_settings(FinksSettings.from_env(
        {**base, "FINKS_API_PORT": "9123", "FINKS_API_KEY_STORE": str(tmp_path / "k.json")}
    ))
    assert custom.port == 9123 and custom.key_store_path == tmp_path / "k.json"
    for bad in ("0", "70000", "80a", "-1", ""):
        with pytest.raises(SettingsError, match="FINKS_API_PORT"):
            FinksSettings.from_env({**base, "FINKS_API_PORT": bad})
