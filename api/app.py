"""The FastAPI service: thin routers over the siteselect library."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi_offline import FastAPIOffline

from api import errors
from api.auth import User
from api.routers import checks, layers, matching, ogc, reports
from siteselect import listings
from siteselect.index import Catalog
from siteselect.settings import Settings
from siteselect.store import Store

HOME = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>siteselect 智能选址</title></head>
<body style="font-family: sans-serif; max-width: 42em; margin: 2em auto">
<h1>siteselect 智能选址</h1>
<p>崂山区住所登记选址服务 — site selection for business registration, Laoshan District.</p>
<ul>
<li><a href="/docs">API 文档 / API documentation</a> — check premises, match, compare, surface</li>
<li><a href="/ogc/">OGC API – Features</a> — every layer, for QGIS and GDAL</li>
<li><a href="/layers">图层 / layers</a> and their versions</li>
<li><a href="/industries?q=%E5%A5%B6%E8%8C%B6">行业查询 / industry picker</a> (奶茶)</li>
</ul></body></html>
"""


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
    errors.install(app)
    app.include_router(layers.router)
    app.include_router(checks.router)
    app.include_router(matching.router)
    app.include_router(ogc.router)
    app.include_router(reports.router)

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def home() -> str:
        """A plain page of where things are, until the web map lives here."""
        return HOME

    @app.get("/me", tags=["accounts"])
    def me(user: User) -> dict[str, object]:
        """Who the bearer token belongs to: its user's name, role and parks."""
        return {"name": user.name, "role": user.role, "parks": list(user.parks)}

    @app.get("/audit", tags=["accounts"])
    def audit(user: User) -> list[dict[str, object]]:
        """Every write and every refusal, oldest first: for admins and clerks."""
        return listings.audit_log(app.state.store, user)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, object]:
        return {"status": "ok", "layers": app.state.catalog.versions}

    @app.get("/noop", tags=["service"], include_in_schema=False)
    async def noop() -> dict[str, bool]:
        """Does nothing: the floor under every benchmark of the service."""
        return {"ok": True}

    return app
