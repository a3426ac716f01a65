"""The FastAPI service: thin routers over the siteselect library."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api import errors, openapi
from api.limits import LimitBodySize
from api.routers import accounts, checks, layers, matching, ogc, pages, reports, webmap
from siteselect.index import Catalog
from siteselect.settings import Settings
from siteselect.store import Store


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service over the store named by ``settings`` (default: from the environment)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.database_url, h3_resolution=settings.h3_resolution)
        app.state.store = store
        app.state.catalog = Catalog(store, settings)
        snapshot = app.state.catalog.current()
        if snapshot.has("rules") and snapshot.has("pois"):  # the first request should not wait
            snapshot.checker.warm()
            snapshot.scorer.warm()
            webmap.base_geojson(app.state)
        try:
            yield
        finally:
            store.close()

    app = FastAPIOffline(  # the API docs' scripts are served here: intranets reach no CDN
        title="siteselect",
        summary="智能选址 — site selection for business registration, Laoshan District",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(LimitBodySize)
    errors.install(app)
    openapi.install(app)
    app.include_router(accounts.router)
    app.include_router(layers.router)
    app.include_router(checks.router)
    app.include_router(matching.router)
    app.include_router(ogc.router)
    app.include_router(reports.router)
    app.include_router(webmap.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=webmap.STATIC), name="static")

    @app.get("/health", tags=["service"])
    def health() -> dict[str, object]:
        return {"status": "ok", "layers": app.state.catalog.versions, "worker": os.getpid()}

    @app.get("/noop", tags=["service"], include_in_schema=False)
    async def noop() -> dict[str, bool]:
        """Does nothing: the floor under every benchmark of the service."""
        return {"ok": True}

    return app
