"""The FastAPI application: versioned, authenticated, read-only routes over gold.

Handlers are ``async``: parameter checks, auth and errors are answered on the event loop, and
only the query and its encoding go to the thread pool (DuckDB releases the GIL while it
executes), so a slow query never stalls the loop. Plain ``def`` handlers would queue every
request, a 422 or ``/healthz`` included, for one of the pool's few threads: under the mixed load
profile (bench/api_load.py, 20 clients) ``/healthz`` then had a p50 of 40 ms.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
from collections.abc import AsyncIterator
from typing import Annotated

import anyio.to_thread
import duckdb
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BeforeValidator

from finks_api import datasets, models
from finks_api.access_log import AccessLogMiddleware
from finks_api.auth import require_key
from finks_api.config import DEFAULT_PAGE_SIZE, MAX_FILTER_VALUES, MAX_PAGE_SIZE, ApiConfig
from finks_api.datasets import Dataset, DatasetMissing, InvalidParameter
from finks_api.formats import MEDIA_TYPES, Format, encode, negotiate
from finks_api.keys import KeyStore, KeyStoreError
from finks_api.live import live_router
from finks_api.readers import GoldQueryFailed, build_reader
from finks_api.snapshot import WarehouseUnavailable
from finks_assets.lib.tickers import InvalidTickerError, validate_ticker, validate_tickers

log = logging.getLogger(__name__)

PRICES = "prices:read"
PORTFOLIO = "portfolio:read"

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size (max {MAX_PAGE_SIZE}).")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, pattern=r"^[A-Za-z0-9_\-]+$", description="`next_cursor` of the previous page."),
]
# BeforeValidator: only YYYY-MM-DD (pydantic alone also takes Unix times such as start=0).
IsoDate = BeforeValidator(datasets.parse_iso_date)
Start = Annotated[
    dt.date | None, Query(description="First trade_date (inclusive), YYYY-MM-DD."), IsoDate
]
End = Annotated[dt.date | None, Query(description="Last trade_date (inclusive), YYYY-MM-DD."), IsoDate]
FormatParam = Annotated[
    Format | None, Query(alias="format", description="json (default), csv or parquet; else Accept.")
]
AcceptHeader = Annotated[str | None, Header(max_length=1024, include_in_schema=False)]
ListParam = Annotated[
    str | None,
    Query(max_length=2048, description=f"Comma-separated list (at most {MAX_FILTER_VALUES})."),
]

ERRORS = {
    401: {"model": models.Problem, "description": "Missing, invalid or revoked API key."},
    403: {"model": models.Problem, "description": "The key lacks the endpoint's scope."},
    404: {"model": models.Problem, "description": "The dataset is not built in this warehouse yet."},
    422: {"description": "A parameter failed validation."},
    502: {"model": models.Problem, "description": "The gold backend (Athena) failed the query."},
    503: {"model": models.Problem, "description": "The warehouse is not available yet."},
}


Adjusted = Annotated[bool, Query(description="true: prices back-adjusted for splits and dividends "
                                          "(gold.fct_daily_bars_adjusted, plus adjustment_factor).")]


def bars_dataset(adjusted: bool) -> datasets.Dataset:
    return datasets.DAILY_BARS_ADJUSTED if adjusted else datasets.DAILY_BARS


def _ok(model: type, formats: bool = True) -> dict:
    content = {MEDIA_TYPES["csv"].split(";")[0]: {}, MEDIA_TYPES["parquet"]: {}} if formats else {}
    return {200: {"model": model, "content": content}}


def _split(values: str | None) -> list[str] | None:
    if values is None:
        return None
    parts = [part.strip() for part in values.split(",") if part.strip()]
    if len(parts) > MAX_FILTER_VALUES:
        raise InvalidParameter(f"at most {MAX_FILTER_VALUES} values per filter")
    return parts


def _known_query_parameters(route: APIRoute) -> frozenset[str]:
    """The query parameters the route and its dependencies declare (by their URL name)."""
    names, pending = set(), [route.dependant]
    while pending:
        dependant = pending.pop()
        names.update(field.alias for field in dependant.query_params)
        pending.extend(dependant.dependencies)
    return frozenset(names)


async def refuse_unknown_query_parameters(request: Request) -> None:
    """A query parameter the route does not declare is a 422, not silently ignored.

    ``?tickrs=AAPL`` or ``?strat=2025-01-01`` would otherwise return every ticker or every
    date: the typo selects other rows without a word (the reason dates are strict, too).
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    by_route = getattr(request.app.state, "known_query_parameters", None)
    if by_route is None:  # once per app; its routes live as long as it, so their ids are stable
        by_route = {id(r): _known_query_parameters(r) for r in request.app.routes
                    if isinstance(r, APIRoute)}
        request.app.state.known_query_parameters = by_route
    known = by_route.get(id(route)) or _known_query_parameters(route)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        raise InvalidParameter(f"unknown query parameter(s) {shown}; this route takes "
                               f"{', '.join(sorted(known)) or 'none'}")


def parse_tickers(tickers: str | None) -> list[str] | None:
    parts = _split(tickers)
    if parts is None:
        return None
    try:
        return validate_tickers(parts)
    except InvalidTickerError as exc:
        raise InvalidParameter(str(exc)) from exc


def parse_ticker(ticker: str) -> str:
    try:
        return validate_ticker(ticker)
    except InvalidTickerError as exc:
        raise InvalidParameter(str(exc)) from exc


def parse_portfolio_ids(portfolio_ids: str | None) -> list[str] | None:
    parts = _split(portfolio_ids)
    if parts is None:
        return None
    if not parts:
        raise InvalidParameter("the portfolio_ids selection is empty")
    return list(dict.fromkeys(datasets.validate_portfolio_id(p) for p in parts))


def create_app(config: ApiConfig) -> FastAPI:
    reader = build_reader(config)  # DuckDB snapshot (local/s3) or Athena (aws); readers.py

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reader.open()
        # A few threads are enough to overlap DuckDB (which releases the GIL) with Python work;
        # FastAPI's default of 40 only adds GIL contention and tail latency on small machines.
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.query_threads
        yield
        reader.close()

    app = FastAPI(
        title="Finks data API",
        version="1.0.0",
        description=(
            "Read-only access to the Finks gold tables. Send an API key in `X-API-Key`. "
            "Pages are in key order; pass `next_cursor` back as `cursor` for the next page. "
            "JSON by default; `format=csv|parquet` or an `Accept` header for files."
        ),
        lifespan=lifespan,
        dependencies=[Depends(refuse_unknown_query_parameters)],
    )
    app.state.key_store = KeyStore(config.key_store_path, config.key_recheck_interval)
    app.state.reader = reader
    app.add_middleware(AccessLogMiddleware)

    @app.exception_handler(InvalidParameter)
    async def _invalid(request: Request, exc: InvalidParameter) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(DatasetMissing)
    async def _missing(request: Request, exc: DatasetMissing) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(WarehouseUnavailable)
    async def _unavailable(request: Request, exc: WarehouseUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "30"})

    @app.exception_handler(GoldQueryFailed)
    async def _query_failed(request: Request, exc: GoldQueryFailed) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=502)

    @app.exception_handler(KeyStoreError)
    async def _key_store(request: Request, exc: KeyStoreError) -> JSONResponse:
        log.error("key store error: %s", exc)
        return JSONResponse({"detail": "API key store unavailable"}, status_code=503)

    @app.exception_handler(duckdb.Error)
    async def _duckdb(request: Request, exc: duckdb.Error) -> JSONResponse:
        log.error("warehouse query failed: %s", exc)
        return JSONResponse({"detail": "warehouse query failed"}, status_code=503)

    async def serve(
        dataset: Dataset,
        *,
        entities: list[str] | None,
        start: dt.date | None,
        end: dt.date | None,
        limit: int,
        cursor: str | None,
        fmt: Format | None,
        accept: str | None,
    ) -> Response:
        if start and end and start > end:
            raise InvalidParameter(f"start {start} is after end {end}")
        after = datasets.decode_cursor(dataset, cursor) if cursor else None
        chosen = negotiate(fmt, accept)
        request = datasets.PageRequest(
            entities=entities, start=start, end=end, limit=limit, after=after
        )
        return await anyio.to_thread.run_sync(functools.partial(
            _page_response, dataset, request, chosen))

    def _page_response(dataset: Dataset, request: datasets.PageRequest, chosen: Format) -> Response:
        return encode(reader.page(dataset, request, as_arrow=chosen != "json"), chosen)

    prices = [Depends(require_key(PRICES))]

    @app.get("/v1/daily-bars", tags=["prices"], dependencies=prices,
             responses={**_ok(models.DailyBarsPage), **ERRORS})
    async def daily_bars(
        tickers: ListParam = None, start: Start = None, end: End = None,
        limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None, format: FormatParam = None,
        accept: AcceptHeader = None, adjusted: Adjusted = False,
    ) -> Response:
        """Daily OHLCV bars (`gold.fct_daily_bars`), ordered by ticker and trade_date."""
        return await serve(bars_dataset(adjusted), entities=parse_tickers(tickers), start=start, end=end,
                       limit=limit, cursor=cursor, fmt=format, accept=accept)

    @app.get("/v1/daily-bars/{ticker}", tags=["prices"], dependencies=prices,
             responses={**_ok(models.DailyBarsPage), **ERRORS})
    async def daily_bars_for_ticker(
        ticker: Annotated[str, Path(max_length=15)], start: Start = None, end: End = None,
        limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None, format: FormatParam = None,
        accept: AcceptHeader = None, adjusted: Adjusted = False,
    ) -> Response:
        """One ticker's daily bars, ordered by trade_date."""
        return await serve(bars_dataset(adjusted), entities=[parse_ticker(ticker)], start=start, end=end,
                       limit=limit, cursor=cursor, fmt=format, accept=accept)

    @app.get("/v1/daily-features", tags=["prices"], dependencies=prices,
             responses={**_ok(models.DailyFeaturesPage), **ERRORS})
    async def daily_features(
        tickers: ListParam = None, start: Start = None, end: End = None,
        limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None, format: FormatParam = None,
        accept: AcceptHeader = None,
    ) -> Response:
        """Returns and realized volatility (`gold.fct_daily_features`)."""
        return await serve(datasets.DAILY_FEATURES, entities=parse_tickers(tickers), start=start,
                       end=end, limit=limit, cursor=cursor, fmt=format, accept=accept)

    @app.get("/v1/portfolio-summary", tags=["portfolio"],
             dependencies=[Depends(require_key(PORTFOLIO))],
             responses={**_ok(models.PortfolioSummaryPage), **ERRORS})
    async def portfolio_summary(
        portfolio_ids: ListParam = None, start: Start = None, end: End = None,
        limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None, format: FormatParam = None,
        accept: AcceptHeader = None,
    ) -> Response:
        """Daily value, P&L, return and weights per portfolio (`gold.daily_portfolio_summary`).

        Needs the `portfolio:read` scope. In JSON, `weights` is an object; in CSV/Parquet it is
        the JSON text stored in gold.
        """
        return await serve(datasets.PORTFOLIO_SUMMARY, entities=parse_portfolio_ids(portfolio_ids),
                       start=start, end=end, limit=limit, cursor=cursor, fmt=format, accept=accept)

    @app.get("/v1/tickers", tags=["reference"], dependencies=prices,
             responses={**_ok(models.TickersPage), **ERRORS,
                        404: {"model": models.Problem, "description": "No dim_tickers yet."}})
    async def tickers(
        tickers: ListParam = None, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None,
        format: FormatParam = None, accept: AcceptHeader = None,
    ) -> Response:
        """Ticker reference data (`gold.dim_tickers`); 404 until that model exists."""
        return await serve(datasets.TICKERS, entities=parse_tickers(tickers), start=None, end=None,
                       limit=limit, cursor=cursor, fmt=format, accept=accept)

    @app.get("/v1/freshness", tags=["meta"], dependencies=[Depends(require_key())],
             response_model=models.Freshness, responses=ERRORS)
    async def freshness() -> dict[str, object]:
        """Latest trade_date and row count per gold table, and the age of the served snapshot."""
        return await anyio.to_thread.run_sync(reader.freshness)

    app.include_router(live_router(config, PRICES))  # GET /v1/live/{ticker}: finks_api/live.py

    @app.get("/healthz", tags=["probes"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers. Does not touch the warehouse."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["probes"], responses={503: {"model": models.Problem}})
    def readyz() -> JSONResponse:
        """Readiness: a warehouse snapshot answers a query (aws: Glue and the workgroup answer)."""
        try:
            reader.check_ready()
        except WarehouseUnavailable as exc:
            return JSONResponse({"status": "not ready", "detail": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready"})

    return app
