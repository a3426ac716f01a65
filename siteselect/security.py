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
The policies, the trigger and those functions are made by the schema migrations
(``siteselect/migrations/versions``); the grants are made when the owner opens the store for a
service's role, since only the deployment knows that role's name.
"""

from __future__ import annotations

import sqlalchemy as sa

from siteselect.users import User

# What the service's role may do with each table: rows, never the table itself. The audit log,
# layer versions and reports are appended to; features go in through a version's new partitions.
PRIVILEGES = {
    "listings": "SELECT, INSERT, UPDATE, DELETE",
    "listing_changes": "SELECT",  # counted by a trigger that runs as the owner
    "filings": "SELECT, INSERT, UPDATE",
    "users": "SELECT, INSERT, UPDATE",
    "tokens": "SELECT, INSERT, UPDATE",
    "sessions": "SELECT, INSERT, UPDATE, DELETE",
    "sign_in_failures": "SELECT, INSERT, UPDATE, DELETE",
    "audit_log": "SELECT, INSERT",
    "layer_versions": "SELECT, INSERT",
    "reports": "SELECT, INSERT",
    "features": "SELECT",
    "feature_cells": "SELECT",
    "alembic_version": "SELECT",  # the service checks the schema's revision
}


def grant_once(conn: sa.Connection, role: str) -> None:
    """Grant ``role`` (the service's) its rows unless it has them (PostGIS stores only; run as the
    owner). Checked first, so that a store opened while the service runs takes no lock."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(7414)"))  # two workers starting at once
    if not _granted(conn, role):
        grant(conn, role)


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
