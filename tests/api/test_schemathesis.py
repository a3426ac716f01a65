"""schemathesis over the service's OpenAPI document, in-process, with its default checks (among
them ``ignored_auth``: a write sent without the token must be refused). Requests carry an admin's
token, so the writes are exercised too, on a copy of the demo store. Expected statuses are set in
``schemathesis.toml``."""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from siteselect import accounts
from siteselect.settings import Settings
from siteselect.store import Store


@pytest.fixture(scope="module")
def service(demo_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("schemathesis") / "store.db"
    shutil.copy(demo_db.removeprefix("sqlite:///"), path)
    url = f"sqlite:///{path}"
    store = Store(url)
    accounts.add_user(store, "admin", "admin")
    token = accounts.create_token(store, "admin")[0]
    app = create_app(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    with TestClient(app):  # runs the lifespan: the store and the warmed snapshot
        yield app, {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api_schema(service):
    app, _ = service
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _operations() -> list[tuple[str, str]]:
    """Every operation of the document (which does not need a store to be written)."""
    spec = create_app(Settings(_env_file=None)).openapi()  # type: ignore[call-arg]
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


@pytest.mark.parametrize(("method", "path"), _operations())
def test_the_service_keeps_to_its_openapi_document(api_schema, service, method, path):
    _, auth = service
    operation = api_schema[path][method]

    @given(operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=auth)

    check()
