"""Row-level security, tested as the application's own role: a second wall the application's
checks stand in front of. The role owns its tables (as the service's role does), is no superuser,
and still cannot write another park's listings nor change the audit log."""

import pytest
import sqlalchemy as sa

from siteselect import accounts, listings
from siteselect.errors import PermissionDeniedError
from siteselect.load import load_file
from siteselect.security import acting_as
from siteselect.store import Store

pytestmark = pytest.mark.postgis
APP_ROLE = "siteselect_app"


@pytest.fixture
def app_store(postgis_url, demo_files):
    """The store opened as the service's role, which owns the database and everything in it."""
    admin = sa.create_engine(postgis_url)
    database = postgis_url.rsplit("/", 1)[1]
    with admin.begin() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}).first()
        if not exists:
            conn.execute(sa.text(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"))
        conn.execute(sa.text(f"ALTER DATABASE {database} OWNER TO {APP_ROLE}"))
    admin.dispose()
    store = Store(postgis_url.replace("://postgres@", f"://{APP_ROLE}@"))
    for layer in ("parks", "vacancies"):
        load_file(store, layer, demo_files[layer])
    accounts.add_user(store, "operator-a", "operator", ["park-001"])
    assert listings.seed(store) > 0  # the system seeds listings: allowed
    yield store
    store.close()


def _operator(store):
    return accounts.authenticate(store, accounts.create_token(store, "operator-a")[0])


def _count(conn, where):
    return conn.execute(sa.text(f"SELECT count(*) FROM listings WHERE {where}")).scalar_one()


def test_the_role_is_an_owner_without_superpowers(app_store):
    with app_store.engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT rolsuper, rolbypassrls, relrowsecurity, relforcerowsecurity, pg_get_userbyid(relowner)"
            " FROM pg_roles, pg_class WHERE rolname = current_user AND relname = 'listings'"
        )).one()  # fmt: skip
    assert tuple(row) == (False, False, True, True, APP_ROLE)


def test_acting_for_an_operator_the_database_writes_only_its_parks(app_store):
    operator = _operator(app_store)
    with app_store.engine.begin() as conn:
        acting_as(conn, operator)
        others = _count(conn, "park_id = 'park-002'")
        assert others > 0  # everyone may read
        hit = conn.execute(sa.text("UPDATE listings SET revision = revision + 1 WHERE park_id = 'park-002'"))
        assert hit.rowcount == 0
        gone = conn.execute(sa.text("DELETE FROM listings WHERE park_id = 'park-002'"))
        assert gone.rowcount == 0
        own = conn.execute(sa.text("UPDATE listings SET revision = revision + 1 WHERE park_id = 'park-001'"))
        assert own.rowcount > 0  # its own park: allowed
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), app_store.engine.begin() as conn:
        acting_as(conn, operator)
        conn.execute(sa.text(
            "INSERT INTO listings (id, park_id, lon, lat, props, revision, updated_at)"
            " VALUES ('V-x', 'park-002', 120.45, 36.1, '{}', 1, now())"
        ))  # fmt: skip


def test_a_transaction_acting_for_nobody_writes_no_listing(app_store):
    Store(app_store.url).close()  # opening the store again leaves the wall as it was
    with app_store.engine.begin() as conn:
        assert conn.execute(sa.text("UPDATE listings SET revision = revision + 1")).rowcount == 0


def test_the_application_path_still_works_as_the_role(app_store):
    operator = _operator(app_store)
    own = next(x for x in listings.all_listings(app_store) if x["park_id"] == "park-001")
    changed = listings.update(app_store, operator, own["id"], {"rent": 66.0}, if_match="*", merge=True)
    assert changed["rent"] == 66.0


def test_the_audit_log_is_append_only_even_for_its_owner(app_store):
    operator = _operator(app_store)
    own = next(x for x in listings.all_listings(app_store) if x["park_id"] == "park-001")
    listings.update(app_store, operator, own["id"], {"rent": 70.0}, if_match="*", merge=True)
    for statement in ("UPDATE audit_log SET outcome = 'ok'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), app_store.engine.begin() as conn:
            conn.execute(sa.text(statement))
    with app_store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one() >= 1


def test_another_parks_listing_is_refused_by_the_application_not_hidden_by_the_wall(app_store):
    operator = _operator(app_store)  # the policy hides park-002's rows from its FOR UPDATE
    other = next(x for x in listings.all_listings(app_store) if x["park_id"] == "park-002")
    with pytest.raises(PermissionDeniedError, match="park-002"):
        listings.update(app_store, operator, other["id"], {"rent": 1.0}, if_match="*", merge=True)
    assert listings.get(app_store, other["id"]) == other
