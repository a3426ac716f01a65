"""The FastAPI service: thin routers over the siteselect library."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api import errors, openapi
from api.boundary import CheckedAtTheDoor, keep_secrets_out_of_the_access_log
from api.headers import SecurityHeaders
from api.limits import LimitBodySize
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
    webmap,
)
from siteselect.check import checker_for
from siteselect.index import Catalog
from siteselect.match import scorer_for
from siteselect.settings import Settings
from siteselect.store import Store


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service over the store named by ``settings`` (default: from the environment)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store.from_settings(settings, service=True)
        app.state.store = store
        app.state.catalog = Catalog(store, settings)
        snapshot = app.state.catalog.current()
        if snapshot.has("rules") and snapshot.has("pois"):  # the first request should not wait
            checker_for(snapshot).warm()
            scorer_for(snapshot).warm()
            webmap.base_geojson(app.state)
        try:
            yield
        finally:
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
    )
    app.state.settings = settings
    # The last added runs first: headers on every answer, the size limit, the door, the methods.
    app.add_middleware(HeadAndOptions)
    app.add_middleware(CheckedAtTheDoor)
    app.add_middleware(LimitBodySize)
    app.add_middleware(SecurityHeaders, settings=settings)
    app.add_middleware(Observe)  # outermost: sees every answer, refusals of oversized bodies too
    keep_secrets_out_of_the_access_log()
    errors.install(app)
    openapi.install(app)
    app.include_router(accounts.router)
    app.include_router(layers.router)
    app.include_router(stewards.router)
    app.include_router(checks.router)
    app.include_router(matching.router)
    app.include_router(ogc.router)
    app.include_router(reports.router)
    app.include_router(webmap.router)
    app.include_router(pages.router)
    app.include_router(prefiling.router)
    app.include_router(premises.router)
    app.include_router(service.router)
    app.include_router(docs.router)
    app.mount("/static", StaticFiles(directory=webmap.STATIC), name="static")

    return app
