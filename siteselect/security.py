"""Row-level security on PostGIS: a second wall behind the application's own ownership checks.

The application refuses an operator's write to another park's listing before it reaches the
database. Should a bug or an injected statement get past it, PostgreSQL refuses too: listings
carry a policy (forced, so it binds the tables' owner as well) that lets a transaction write only
rows of the parks of the user it acts for, and the audit log takes inserts only — a trigger
refuses any change or deletion, whoever asks. A transaction names its user with
:func:`acting_as`; one that names nobody writes no listing. Only superusers and roles with
BYPASSRLS pass.

Two roles keep the walls standing: an owner, which creates and migrates the schema (tables,
policies, the trigger), and the service's role, which is granted rows only (``PRIVILEGES``) and so
cannot alter a table, disable a trigger or drop a policy. A new layer version is a new partition
of the feature tables, which only their owner may attach: two functions run as the owner
(``SECURITY DEFINER``) make the bare partitions of a version and attach them, and do nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:  # accounts builds on the store, which installs these policies
    from siteselect.accounts import User

MAY_WRITE = (
    "current_setting('siteselect.role', true) IN ('admin', 'clerk', 'system')"
    " OR park_id = ANY (string_to_array(current_setting('siteselect.parks', true), ','))"
)
STATEMENTS = [
    "ALTER TABLE listings ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE listings FORCE ROW LEVEL SECURITY",
    "DROP POLICY IF EXISTS listings_read ON listings",
    "CREATE POLICY listings_read ON listings FOR SELECT USING (true)",
    "DROP POLICY IF EXISTS listings_write ON listings",
    f"CREATE POLICY listings_write ON listings FOR ALL USING ({MAY_WRITE}) WITH CHECK ({MAY_WRITE})",
    """CREATE OR REPLACE FUNCTION siteselect_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP; END $$""",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
       FOR EACH STATEMENT EXECUTE FUNCTION siteselect_audit_is_append_only()""",
    """CREATE OR REPLACE FUNCTION siteselect_new_partitions(version_id integer) RETURNS void
       LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
       DECLARE parent text;
       BEGIN
         FOREACH parent IN ARRAY ARRAY['features', 'feature_cells'] LOOP
           EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)',
                          parent || '_v' || version_id, parent);
           EXECUTE format('GRANT INSERT ON %I TO %I', parent || '_v' || version_id, session_user);
         END LOOP;
       END $$""",
    """CREATE OR REPLACE FUNCTION siteselect_attach_partitions(version_id integer) RETURNS void
       LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
       DECLARE parent text;
       BEGIN
         FOREACH parent IN ARRAY ARRAY['features', 'feature_cells'] LOOP
           EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (%s)',
                          parent, parent || '_v' || version_id, version_id);
           EXECUTE format('ANALYZE %I', parent || '_v' || version_id);
         END LOOP;
       END $$""",
    "REVOKE ALL ON FUNCTION siteselect_new_partitions(integer) FROM PUBLIC",
    "REVOKE ALL ON FUNCTION siteselect_attach_partitions(integer) FROM PUBLIC",
]
# What the service's role may do with each table: rows, never the table itself. The audit log,
# layer versions and reports are appended to; features go in through a version's new partitions.
PRIVILEGES = {
    "listings": "SELECT, INSERT, UPDATE, DELETE",
    "users": "SELECT, INSERT, UPDATE",
    "tokens": "SELECT, INSERT, UPDATE",
    "audit_log": "SELECT, INSERT",
    "layer_versions": "SELECT, INSERT",
    "reports": "SELECT, INSERT",
    "features": "SELECT",
    "feature_cells": "SELECT",
}


INSTALLED = sa.text(
    "SELECT (SELECT count(*) FROM pg_policies WHERE tablename = 'listings'"
    "        AND policyname IN ('listings_read', 'listings_write')) = 2"
    " AND (SELECT relforcerowsecurity FROM pg_class WHERE relname = 'listings')"
    " AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_log_append_only')"
    " AND to_regprocedure('siteselect_attach_partitions(integer)') IS NOT NULL"
)


def install(conn: sa.Connection, service_role: str | None = None) -> None:
    """Put the policies, the trigger and the partition functions in place, unless they are, and
    grant ``service_role`` its rows (PostGIS stores only; run as the owner). Checked first, so that
    a store opened while the service runs takes no lock on the listings."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(7414)"))  # two workers starting at once
    if not conn.execute(INSTALLED).scalar():
        for statement in STATEMENTS:
            conn.execute(sa.text(statement))
    if service_role is not None and not _granted(conn, service_role):
        grant(conn, service_role)


def grant(conn: sa.Connection, role: str) -> None:
    """Let ``role`` (the service's) read and write rows, and make a layer version's partitions."""
    quote = conn.dialect.identifier_preparer.quote
    conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {quote(role)}"))
    conn.execute(sa.text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quote(role)}"))
    for table, privileges in PRIVILEGES.items():
        conn.execute(sa.text(f"GRANT {privileges} ON {quote(table)} TO {quote(role)}"))
    for function in ("siteselect_new_partitions", "siteselect_attach_partitions"):
        conn.execute(sa.text(f"GRANT EXECUTE ON FUNCTION {function}(integer) TO {quote(role)}"))


def _granted(conn: sa.Connection, role: str) -> bool:
    checks = " AND ".join(
        f"has_table_privilege(:role, '{table}', '{privileges.split(', ')[-1]}')"
        for table, privileges in PRIVILEGES.items()
    )
    attach = "has_function_privilege(:role, 'siteselect_attach_partitions(integer)', 'EXECUTE')"
    query = f"SELECT {checks} AND {attach}"
    return bool(conn.execute(sa.text(query), {"role": role}).scalar())


def acting_as(conn: sa.Connection, user: User | None) -> None:
    """Name the user this transaction writes for (None: the system itself, seeding listings)."""
    if conn.dialect.name != "postgresql":
        return
    role, parks = ("system", "") if user is None else (user.role, ",".join(user.parks))
    conn.execute(
        sa.text(
            "SELECT set_config('siteselect.role', :role, true), set_config('siteselect.parks', :parks, true)"
        ),
        {"role": role, "parks": parks},
    )
