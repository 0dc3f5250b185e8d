"""``finks-api``: serve the data API and manage its keys.

    finks-api serve [--host 127.0.0.1] [--port $FINKS_API_PORT] [--workers N]
    finks-api keys create --scope prices:read [--scope portfolio:read] [--name NAME]
    finks-api keys list
    finks-api keys revoke KEY_ID
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import logging.handlers
import os
import queue
import sys
from collections.abc import Iterator, Sequence

from finks_api.config import ApiConfig
from finks_api.keys import SCOPES, KeyStore, KeyStoreError
from finks_assets.lib.settings import FinksSettings, SettingsError


def make_private_dirs(config: ApiConfig) -> None:
    """Create the API's folders (``<data_dir>/api`` with the key store and the snapshots) 0700.

    The snapshots are full copies of gold and the key store lists key ids and hashes: other
    local users have no business reading either. ``mode`` only applies to folders created
    here (minus the umask), so an operator's existing folder keeps the mode they chose.
    """
    for folder in (config.snapshot_dir.parent, config.snapshot_dir, config.key_store_path.parent):
        folder.parent.mkdir(parents=True, exist_ok=True)  # the data dir: not ours to restrict
        folder.mkdir(mode=0o700, exist_ok=True)


@contextlib.contextmanager
def log_through_a_queue() -> Iterator[None]:
    """Root logging to stderr from a background thread; callers only enqueue the record.

    The access log is written from the event loop for every request. A write there blocks the
    loop and hands the GIL to the query threads, and getting it back can take a switch interval
    (5 ms). Under the mixed load profile (bench/api_load.py, 20 clients) a stack sample of the
    server put the handler's stderr flush in 118 of ~1,000 busy samples, the largest item on
    the event loop (the DuckDB queries, off the loop, were 185). QueueHandler/QueueListener is
    the standard library's answer; with it the flush left the loop's samples.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = [logging.handlers.QueueHandler(records)]
    root.setLevel(logging.INFO)
    listener = logging.handlers.QueueListener(records, handler)
    listener.start()
    try:
        yield
    finally:
        listener.stop()  # writes what is still queued
        root.handlers, _ = saved
        root.setLevel(saved[1])


def _serve(args: argparse.Namespace, config: ApiConfig) -> int:
    import uvicorn

    from finks_api.app import create_app

    make_private_dirs(config)
    if args.query_threads:
        config = dataclasses.replace(config, query_threads=args.query_threads)
    if args.workers > 1:
        from finks_api.workers import QUERY_THREADS_VAR

        os.environ[QUERY_THREADS_VAR] = str(config.query_threads)
        uvicorn.run("finks_api.workers:app_for_worker", factory=True, workers=args.workers,
                    host=args.host, port=args.port or config.port, access_log=False,
                    log_level="info")
        return 0
    with log_through_a_queue():
        app = create_app(config)
        # uvicorn's own access log would repeat each request (with its query string); ours
        # has the key id.
        uvicorn.run(app, host=args.host, port=args.port or config.port, access_log=False,
                    log_level="info", workers=1)
    return 0


def _create(args: argparse.Namespace, store: KeyStore) -> int:
    created = store.create(args.scope, name=args.name)
    print(f"key_id: {created.record.key_id}", file=sys.stderr)
    print(f"scopes: {' '.join(created.record.scopes)}", file=sys.stderr)
    print("The key is shown once; store it now:", file=sys.stderr)
    print(created.key)
    return 0


def _list(args: argparse.Namespace, store: KeyStore) -> int:
    print(f"{'KEY_ID':<14}{'STATUS':<9}{'CREATED':<27}{'SCOPES':<30}NAME")
    for record in store.records().values():
        status = "active" if record.active else "revoked"
        print(f"{record.key_id:<14}{status:<9}{record.created_at:<27}{' '.join(record.scopes):<30}{record.name}")
    return 0


def _revoke(args: argparse.Namespace, store: KeyStore) -> int:
    record = store.revoke(args.key_id)
    print(f"revoked {record.key_id} at {record.revoked_at}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finks-api", description="Finks data API")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default: FINKS_API_PORT (8000)")
    serve.add_argument("--query-threads", type=int, default=None,
                       help="threads running DuckDB queries, per worker (default 4)")
    serve.add_argument("--workers", type=_positive, default=1,
                       help="server processes (default 1); one per core serves the most requests")
    serve.set_defaults(handler=_serve)

    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    key_commands = keys.add_subparsers(dest="key_command", required=True)
    create = key_commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--scope", action="append", required=True, choices=SCOPES)
    create.add_argument("--name", default="", help="a label for `keys list`")
    create.set_defaults(handler=_create)
    key_commands.add_parser("list", help="list keys (ids and scopes, never keys)").set_defaults(
        handler=_list
    )
    revoke = key_commands.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=_revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = ApiConfig.from_settings(FinksSettings.from_env())
        if args.command == "serve":
            return _serve(args, config)
        return args.handler(args, KeyStore(config.key_store_path))
    except (SettingsError, KeyStoreError, ValueError) as exc:
        print(f"finks-api: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
