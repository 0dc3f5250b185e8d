"""Keep the FMP key out of anything that can be logged.

FMP authenticates with an ``apikey`` query parameter, so the key is part of every request URL,
and urllib3/requests put URLs in their exception messages and in urllib3's DEBUG log lines.
We scrub twice: by pattern (any ``apikey=...``) and by value (the literal key), so a key that
leaks through some other route is caught too.
"""

from __future__ import annotations

import logging
import re

_APIKEY_PARAM = re.compile(r"(?i)(apikey=)[^&\s'\"<>)]+")
REDACTED = "***"


def scrub(text: str, secret: str | None = None) -> str:
    """``text`` with every ``apikey=`` value and every occurrence of ``secret`` redacted."""
    text = _APIKEY_PARAM.sub(rf"\g<1>{REDACTED}", text)
    if secret:
        text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites records so that no ``apikey=`` value reaches a handler.

    Installed on the ``urllib3`` loggers, which log each request line (with its query string)
    at DEBUG level.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = RedactingFilter()
_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3", "requests")


def install_log_redaction() -> None:
    """Attach the filter to the loggers that see request URLs (idempotent)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
