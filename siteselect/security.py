"""Row-level security on PostGIS: a second wall behind the application's own ownership checks.

The application refuses an operator's write to another park's listing before it reaches the
database. Should a bug or an injected statement get past it, PostgreSQL refuses too: listings
carry a policy (forced, so it binds the tables' owner as well) that lets a transaction write only
rows of the parks of the user it acts for, and the audit log takes inserts only — a trigger
refuses any change or deletion, whoever asks. A transaction names its user with
:func:`acting_as`; one that names nobody writes no listing. Only superusers and roles with
BYPASSRLS pass, so the service connects as a role of its own that owns its tables (the policy is
forced on owners too).
"""

from __future__ import annotations

import sqlalchemy as sa

from siteselect.users import User

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
]


INSTALLED = sa.text(
    "SELECT (SELECT count(*) FROM pg_policies WHERE tablename = 'listings'"
    "        AND policyname IN ('listings_read', 'listings_write')) = 2"
    " AND (SELECT relforcerowsecurity FROM pg_class WHERE relname = 'listings')"
    " AND EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_log_append_only')"
)


def install(conn: sa.Connection) -> None:
    """Put the policies and the trigger in place, unless they are (PostGIS stores only). Checked
    first, so that a store opened while the service runs takes no lock on the listings."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(7414)"))  # two workers starting at once
    if conn.execute(INSTALLED).scalar():
        return
    for statement in STATEMENTS:
        conn.execute(sa.text(statement))


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
