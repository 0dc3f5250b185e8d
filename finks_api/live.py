"""``GET /v1/live/{ticker}``: the intraday live row (running VWAP, volume, last price).

The consumer (``finks stream-consume``) writes a small SQLite file beside the warehouse,
``$FINKS_DATA_DIR/stream/live.sqlite``, never the gold DuckDB file (one writer there: dbt).
Each request opens it read-only (WAL mode: readers never block the consumer's commits and
always see a committed state). Same key and scope as the daily prices: ``prices:read``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi import Path as PathParam
from pydantic import BaseModel

from finks_api import models
from finks_api.auth import require_key
from finks_api.config import ApiConfig
from finks_assets.lib.stream.live_state import read_live
from finks_assets.lib.tickers import InvalidTickerError, validate_ticker


class LiveQuote(BaseModel):
    ticker: str
    trade_date: str
    last_bar_ts: str  # start of the newest bar applied, UTC ISO 8601
    last_price: float
    cum_volume: int
    vwap: float | None  # sum(close * volume) / sum(volume) over the day's bars so far
    bars: int
    updated_at: str  # when the consumer committed this row, UTC ISO 8601


# As the other routes document them (app.ERRORS): 422 is a validation list or a detail text.
LIVE_ERRORS = {
    401: {"model": models.Problem, "description": "Missing, invalid or revoked API key."},
    403: {"model": models.Problem, "description": "The key lacks the prices:read scope."},
    404: {"model": models.Problem, "description": "No live row for the ticker (yet)."},
    422: {"description": "A parameter failed validation (length, ticker pattern)."},
}


def live_db_for(config: ApiConfig) -> Path:
    """The consumer's store: ``stream/live.sqlite`` in the data dir that holds the warehouse."""
    return Path(config.warehouse_path).parent / "stream" / "live.sqlite"


def live_router(config: ApiConfig, scope: str) -> APIRouter:
    router = APIRouter()
    path = live_db_for(config)

    @router.get("/v1/live/{ticker}", tags=["prices"], response_model=LiveQuote,
                dependencies=[Depends(require_key(scope))],
                responses=LIVE_ERRORS)
    def live(ticker: Annotated[str, PathParam(max_length=15)]) -> dict[str, object]:
        """The ticker's running VWAP, cumulative volume and last price for the current session."""
        try:
            symbol = validate_ticker(ticker)
        except InvalidTickerError as exc:
            raise HTTPException(422, str(exc)) from exc
        row = read_live(path, symbol)
        if row is None:
            raise HTTPException(404, f"no live data for {symbol}")
        return row

    return router
