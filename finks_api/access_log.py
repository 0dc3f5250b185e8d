"""One access-log line per request: key id, method, path, status, latency. Never the key.

A plain ASGI middleware (no ``BaseHTTPMiddleware``: it would add a task hop per request). The
auth dependency records the key id in the request state, which is this scope's ``state`` dict.
The query string is left out too, so nothing a client puts in a URL ends up in the log.

The path is logged re-percent-encoded (:func:`loggable_path`): ASGI hands it over decoded, so
``/healthz%0a<forged line>`` would otherwise write a forged line, and it needs no key. Encoding
control characters, spaces and non-ASCII keeps every request on one line and one ``path=``.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("finks_api.access")
# RFC 3986 pchar delimiters and "/": kept as they are, so ordinary paths read unchanged.
_PATH_SAFE = "/:@!$&'()*+,;="


def loggable_path(path: str) -> str:
    """``path`` percent-encoded again: no control character, space, ``%`` or non-ASCII left."""
    return quote(path, safe=_PATH_SAFE)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            log.info(
                "key_id=%s method=%s path=%s status=%d latency_ms=%.2f",
                state.get("key_id", "-"), scope["method"], loggable_path(scope["path"]), status,
                (time.perf_counter() - started) * 1000,
            )
