"""The FastAPI service: thin routers over the siteselect library."""

from __future__ import annotations

import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api import errors, openapi
from api.boundary import CheckedAtTheDoor, keep_secrets_out_of_the_access_log
from api.direct_route import DirectRoute, route_of
from api.headers import SecurityHeaders
from api.limits import MAX_BODY, LimitBodySize
from api.memory import GiveBack
from api.methods import HeadAndOptions
from api.observe import Observe
from api.routers import (
    accounts,
    checks,
    docs,
    layers,
    matching,
    ogc,
    pages,
    prefiling,
    premises,
    reports,
    service,
    stewards,
    tiles,
    webmap,
)
from siteselect.bytes_cache import BytesCache
from siteselect.check import checker_for
from siteselect.index import Catalog, Snapshot
from siteselect.match import scorer_for
from siteselect.settings import Settings
from siteselect.store import Store
from siteselect.tiles import CACHE_BYTES as TILE_CACHE_BYTES


def _warm(snapshot: Snapshot) -> None:
    """Build what checks and matches need from a snapshot before it serves: no request waits for
    it, at start-up nor when a new layer version arrives (the old snapshot answers meanwhile)."""
    if snapshot.has("rules") and snapshot.has("pois"):
        checker_for(snapshot).warm()
        scorer_for(snapshot).warm()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service over the store named by ``settings`` (default: from the environment)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        freeze_what_was_loaded()
        store = Store.from_settings(settings, service=True)
        app.state.store = store
        app.state.catalog = Catalog(store, settings, prepare=_warm, snapshot_dir=settings.snapshot_folder)
        snapshot = app.state.catalog.current()
        if snapshot.has("rules") and snapshot.has("pois"):  # the first page should not wait
            webmap.base_geojson(app.state)
        app.state.give_back = GiveBack(app.state.catalog).start()
        try:
            yield
        finally:
            app.state.give_back.stop()
            if hasattr(app.state, "expensive"):
                app.state.expensive.close()
            store.close()

    app = FastAPIOffline(  # the API docs' scripts are served here: intranets reach no CDN
        docs_url=None,  # the pages are api/routers/docs.py: no inline scripts
        redoc_url=None,
        title="siteselect",
        summary="智能选址 — site selection for business registration, Laoshan District",
        version="0.1.0",
        lifespan=lifespan,
        # What operators watch is api/observe.py's: with OpenTelemetry on, FastAPI would ask for
        # the global providers on every request, 3 µs of a check's CPU, to find none set.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.tiles = BytesCache(TILE_CACHE_BYTES)  # drawn vector tiles, by layer version
    # The last added runs first: the request id and metrics, then headers on every answer. A plain
    # check, most of what a worker answers, goes from there to its endpoint (api/direct_route.py);
    # every other request meets the size limit, the door and the methods, then FastAPI.
    app.add_middleware(HeadAndOptions)
    app.add_middleware(CheckedAtTheDoor)
    app.add_middleware(LimitBodySize)
    route = route_of(checks.router, checks.check)
    app.add_middleware(DirectRoute, route=route, model=checks.CheckRequest, max_body=MAX_BODY)
    app.add_middleware(SecurityHeaders, settings=settings)
    app.add_middleware(Observe)  # outermost: sees every answer, refusals of oversized bodies too
    keep_secrets_out_of_the_access_log()
    errors.install(app)
    openapi.install(app, ogc.document_collections)
    # A request is matched against the routes in the order included, each a few microseconds:
    # the checks and matches, most of what a worker answers, are tried first.
    app.include_router(checks.router)
    app.include_router(matching.router)
    app.include_router(accounts.router)
    app.include_router(layers.router)
    app.include_router(stewards.router)
    app.include_router(ogc.router)
    app.include_router(reports.router)
    app.include_router(tiles.router)
    app.include_router(webmap.router)
    app.include_router(pages.router)
    app.include_router(prefiling.router)
    app.include_router(premises.router)
    app.include_router(service.router)
    app.include_router(docs.router)
    app.mount("/static", StaticFiles(directory=webmap.STATIC), name="static")

    return app


@functools.cache  # once per process
def freeze_what_was_loaded() -> None:
    """Take what the process has loaded before reading any layer — modules, the libraries' tables
    (pypinyin's phrases alone are 200,000 lists) — out of the cyclic collector's sight, so that a
    full collection scans only the layers and what is made from them: 0.04 s rather than 0.6 s
    for the demo on a busy machine, a pause every request waits for. Never later: frozen objects
    are never freed, and snapshots are replaced with every listing written."""
    gc.collect()
    gc.freeze()
