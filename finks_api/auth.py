"""``X-API-Key`` authentication and scope checks as FastAPI dependencies.

401 means "who are you?" (no key, a malformed/unknown key, a revoked key); 403 means "I know
you, but this key lacks the scope". Both carry the same body whichever part of the key was
wrong, so the response does not help guessing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from finks_api.keys import ApiKeyRecord, KeyStore

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key from `finks-api keys create --scope ...`.",
)
UNAUTHORIZED = {"WWW-Authenticate": 'APIKey header="X-API-Key"'}


def require_key(scope: str | None = None) -> Callable[..., Awaitable[ApiKeyRecord]]:
    """A dependency that admits an active key (holding ``scope``, when given)."""

    # async: it only does a stat and a hash, so it runs on the event loop instead of costing a
    # thread-pool hop per request.
    async def dependency(
        request: Request, key: str | None = Security(api_key_header)
    ) -> ApiKeyRecord:
        store: KeyStore = request.app.state.key_store
        if not key:
            raise HTTPException(401, "missing X-API-Key header", headers=UNAUTHORIZED)
        record = store.authenticate(key)
        if record is None:
            raise HTTPException(401, "invalid or revoked API key", headers=UNAUTHORIZED)
        request.state.key_id = record.key_id
        if scope is not None and scope not in record.scopes:
            raise HTTPException(403, f"this API key lacks the {scope!r} scope")
        return record

    return dependency
