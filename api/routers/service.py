"""The service itself: liveness, readiness and metrics, for the proxy, systemd and monitoring."""

from __future__ import annotations

import os
import time

import prometheus_client
import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import multiprocess

from api.observe import SNAPSHOT_AGE, SNAPSHOT_BUILD
from siteselect import migrations
from siteselect.errors import StoreError

router = APIRouter(tags=["service"])
NEEDED = ("rules", "pois")  # without these a check cannot be judged


@router.get("/health")
def health(request: Request) -> dict[str, object]:
    """Liveness: the process answers. Says nothing of the store (see ``/ready``)."""
    return {"status": "ok", "layers": request.app.state.catalog.versions, "worker": os.getpid()}


@router.get("/ready", responses={503: {"description": "the store or the snapshot is not ready"}})
def ready(request: Request) -> JSONResponse:
    """Readiness: the store answers at this release's schema, and the layers checks need are loaded."""
    state = request.app.state
    problems: list[str] = []
    try:
        with state.store.engine.connect() as conn:
            migrations.check(conn, "the configured URL")
    except (StoreError, sa.exc.SQLAlchemyError) as exc:
        problems.append(f"store: {str(exc).splitlines()[0]}")
    versions: dict[str, int] = {}
    if not problems:
        versions = state.catalog.current().versions
        problems += [f"snapshot: no {name} layer loaded" for name in NEEDED if name not in versions]
    body = {"ready": not problems, "problems": problems, "layers": versions}
    return JSONResponse(body, status_code=503 if problems else 200)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus's text format, gathered across every worker of this service."""
    catalog = request.app.state.catalog
    catalog.current()
    SNAPSHOT_AGE.set(time.time() - catalog.built_at)
    SNAPSHOT_BUILD.set(catalog.build_seconds)
    registry = prometheus_client.REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(
        prometheus_client.generate_latest(registry), media_type=prometheus_client.CONTENT_TYPE_LATEST
    )


@router.get("/noop", include_in_schema=False)
async def noop() -> dict[str, bool]:
    """Does nothing: the floor under every benchmark of the service."""
    return {"ok": True}
