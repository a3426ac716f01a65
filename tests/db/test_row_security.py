"""Row-level security and the two database roles, tested as the service's own role: a second
wall the application's checks stand in front of. An owner role creates the schema; the service's
role is no superuser, owns nothing, and cannot write another park's listings, change the audit log,
nor switch off the trigger and policies that keep it so."""

import httpx
import pytest
import sqlalchemy as sa

from siteselect import accounts, listings
from siteselect.demo import LOAD_ORDER
from siteselect.errors import PermissionDeniedError
from siteselect.load import load_file
from siteselect.security import acting_as
from siteselect.store import Store
from tests.support.postgis import OWNER, SERVICE, two_roles
from tests.support.serve import running_service

pytestmark = pytest.mark.postgis


@pytest.fixture
def app_store(postgis_url, demo_files):
    """The store opened as the service's role, set up through the owner's."""
    owner_url, service_url = two_roles(postgis_url)
    store = Store(service_url, owner_url=owner_url)
    for layer in ("parks", "vacancies"):  # new layer versions, as the service's role
        load_file(store, layer, demo_files[layer])
    accounts.add_user(store, "operator-a", "operator", ["park-001"])
    assert listings.seed(store) > 0  # the system seeds listings: allowed
    yield store
    store.close()


def _operator(store):
    return accounts.authenticate(store, accounts.create_token(store, "operator-a")[0])


def _count(conn, where):
    return conn.execute(sa.text(f"SELECT count(*) FROM listings WHERE {where}")).scalar_one()


def test_the_service_role_owns_nothing_and_has_no_superpowers(app_store):
    with app_store.engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT current_user, rolsuper, rolbypassrls, relrowsecurity, relforcerowsecurity,"
            " pg_get_userbyid(relowner) FROM pg_roles, pg_class WHERE rolname = current_user"
            " AND relname = 'listings'"
        )).one()  # fmt: skip
        owned = conn.execute(sa.text(
            "SELECT count(*) FROM pg_class"
            " WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )).scalar_one()  # fmt: skip
    assert tuple(row) == (SERVICE, False, False, True, True, OWNER)
    assert owned == 0  # not even the partitions of the layer versions it loaded
    assert len(app_store.read_layer("parks")) > 0


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "ALTER TABLE listings DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE listings NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY listings_write ON listings",
        "CREATE POLICY anything ON listings FOR ALL USING (true)",
        "ALTER TABLE audit_log ALTER COLUMN actor TYPE text",
        "ALTER TABLE listings OWNER TO siteselect_service",
        "TRUNCATE audit_log",
        "DROP TABLE reports",
        "CREATE OR REPLACE FUNCTION siteselect_audit_is_append_only() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
        "CREATE TABLE public.scratch (x int)",
        "UPDATE layer_versions SET loaded_by = 'someone else'",
        "UPDATE listing_changes SET writes = 0",  # counted by the owner's trigger alone
        "ALTER TABLE listings DISABLE TRIGGER listings_counted",
        "DROP TRIGGER listings_counted ON listings",
    ],
)
def test_the_service_role_cannot_alter_the_walls(app_store, statement):
    refused = pytest.raises(sa.exc.ProgrammingError, match=r"permission denied|must be owner")
    with refused, app_store.engine.begin() as conn:
        conn.execute(sa.text(statement))


def test_the_owner_role_is_no_superuser_either(app_store):
    owner = sa.create_engine(app_store.url.replace(SERVICE, OWNER))
    with owner.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar()
            is False
        )
    owner.dispose()


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
    Store(app_store.url).close()  # the service opening the store again leaves the wall as it was
    with app_store.engine.begin() as conn:
        assert conn.execute(sa.text("UPDATE listings SET revision = revision + 1")).rowcount == 0


def test_the_application_path_still_works_as_the_role(app_store):
    operator = _operator(app_store)
    own = next(x for x in listings.all_listings(app_store) if x["park_id"] == "park-001")
    before = listings.stamp(app_store)
    changed = listings.update(app_store, operator, own["id"], {"rent": 66.0}, if_match="*", merge=True)
    assert changed["rent"] == 66.0
    assert listings.stamp(app_store) == (True, before[1] + 1)  # the owner's trigger counted the write


def test_the_audit_log_is_append_only_for_the_service_and_its_owner(app_store):
    operator = _operator(app_store)
    own = next(x for x in listings.all_listings(app_store) if x["park_id"] == "park-001")
    listings.update(app_store, operator, own["id"], {"rent": 70.0}, if_match="*", merge=True)
    owner = sa.create_engine(app_store.url.replace(SERVICE, OWNER))
    changes = ("UPDATE audit_log SET outcome = 'ok'", "DELETE FROM audit_log", "TRUNCATE audit_log")
    for engine, refusal in ((app_store.engine, "permission denied"), (owner, "append-only")):
        for statement in changes:
            with pytest.raises(sa.exc.DBAPIError, match=refusal), engine.begin() as conn:
                conn.execute(sa.text(statement))
    owner.dispose()
    with app_store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one() >= 1


def test_another_parks_listing_is_refused_by_the_application_not_hidden_by_the_wall(app_store):
    operator = _operator(app_store)  # the policy hides park-002's rows from its FOR UPDATE
    other = next(x for x in listings.all_listings(app_store) if x["park_id"] == "park-002")
    with pytest.raises(PermissionDeniedError, match="park-002"):
        listings.update(app_store, operator, other["id"], {"rent": 1.0}, if_match="*", merge=True)
    assert listings.get(app_store, other["id"]) == other


def test_the_service_runs_as_its_role_beside_the_owner(app_store, demo_files):
    for layer in LOAD_ORDER:
        if layer not in ("parks", "vacancies"):
            load_file(app_store, layer, demo_files[layer])
    accounts.add_user(app_store, "admin", "admin", [])
    token = {"Authorization": f"Bearer {accounts.create_token(app_store, 'admin')[0]}"}
    owner_url = app_store.url.replace(SERVICE, OWNER)
    with running_service(app_store.url, SITESELECT_DATABASE_OWNER_URL=owner_url) as base:
        path = f"{base}/ogc/collections/vacancies/items/{listings.all_listings(app_store)[0]['id']}"
        tag = httpx.get(path).headers["etag"]
        headers = token | {"If-Match": tag, "Content-Type": "application/merge-patch+json"}
        assert httpx.patch(path, json={"rent": 88.0}, headers=headers).status_code == 200
        report = {"industry": "6210", "sites": [{"lon": 120.452, "lat": 36.1075}]}
        assert httpx.post(f"{base}/reports", json=report, timeout=60).status_code == 201
        assert [e["outcome"] for e in httpx.get(f"{base}/audit", headers=token).json()][-1] == "ok"


def test_pre_filings_take_writes_only_for_the_acting_operators_parks(app_store):
    from siteselect import filings

    operator = _operator(app_store)
    own = next(x for x in listings.all_listings(app_store) if x["park_id"] == "park-001")
    facts = {"vacancy_id": own["id"], "certificate_no": "鲁(2024)第1号", "owner": "创新园公司",
             "registered_use": "办公", "valid_until": "2099-12-31"}  # fmt: skip
    assert filings.file(app_store, operator, facts)["park_id"] == "park-001"  # the application path
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"), app_store.engine.begin() as conn:
        acting_as(conn, operator)
        conn.execute(sa.text(
            "INSERT INTO filings (listing_id, park_id, certificate_no, owner, registered_use, valid_until,"
            " status, filed_by, filed_at) VALUES ('V-x', 'park-002', 'c', 'o', 'u', '2099-12-31', 'approved',"
            " 'operator:operator-a', now())"
        ))  # fmt: skip
    with app_store.engine.begin() as conn:
        acting_as(conn, operator)
        assert (
            conn.execute(
                sa.text("UPDATE filings SET status = 'approved' WHERE park_id = 'park-002'")
            ).rowcount
            == 0
        )
