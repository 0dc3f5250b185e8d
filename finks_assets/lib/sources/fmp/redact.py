"""Keep API keys and webhook URLs out of anything that can be logged.

FMP authenticates with an ``apikey`` query parameter, so the key is part of every request URL;
Slack- and Discord-style alert webhooks carry their token in the URL *path*. urllib3/requests
put URLs (or just their path) in exception messages, in retry warnings and in DEBUG lines.
We scrub twice: by pattern (any ``apikey=...``, any webhook path) and by value (the literal
key, and every secret registered with :func:`register_secret`), so a secret that leaks through
some other route or in an unusual shape is caught too.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit

REDACTED = "***"
_APIKEY_PARAM = re.compile(r"(?i)(apikey=)[^&\s'\"<>)]+")
# Webhook paths, with or without the host (urllib3 logs only the path): Slack
# /services/T../B../<token>, Discord /api/webhooks/<id>/<token>, Teams /webhook(b2)/...
_WEBHOOK_PATH = re.compile(r"(?i)(/(?:services|webhooks?|webhookb2)/)[^\s'\"<>()]+")
_MIN_SECRET_LENGTH = 8  # shorter values ("/", "/hook") are not secrets and would mangle logs

_registered: tuple[str, ...] = ()
_registry_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Scrub ``value`` from every later :func:`scrub`; for a URL, also its path and query.

    urllib3 quotes a request's path without the host, so the path alone must be caught too.
    """
    global _registered
    candidates = {value}
    if "://" in value:
        parts = urlsplit(value)
        candidates |= {parts.path, f"{parts.path}?{parts.query}" if parts.query else parts.path}
    fresh = {c for c in candidates if len(c) >= _MIN_SECRET_LENGTH} - set(_registered)
    if fresh:
        with _registry_lock:
            # longest first, so a URL is replaced whole before its path is looked for
            _registered = tuple(sorted({*_registered, *fresh}, key=len, reverse=True))


def scrub(text: str, secret: str | None = None) -> str:
    """``text`` with ``apikey=`` values, webhook paths, registered secrets and ``secret`` masked."""
    if secret:
        text = text.replace(secret, REDACTED)
    for value in _registered:
        text = text.replace(value, REDACTED)
    text = _APIKEY_PARAM.sub(rf"\g<1>{REDACTED}", text)
    return _WEBHOOK_PATH.sub(rf"\g<1>{REDACTED}", text)


class RedactingFilter(logging.Filter):
    """Rewrites records so that no secret (see :func:`scrub`) reaches a handler.

    Installed on the ``urllib3`` and ``requests`` loggers, which log each request line (with its
    path and query string) at DEBUG level and each retry at WARNING.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = RedactingFilter()
_LOGGERS = ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry", "urllib3",
            "requests")


def install_log_redaction() -> None:
    """Attach the filter to the loggers that see request URLs (idempotent)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
