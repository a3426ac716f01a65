"""Row-level security on PostGIS: a second wall behind the application's own ownership checks.

The application refuses an operator's write to another park's listing before it reaches the
database. Should a bug or an injected statement get past it, PostgreSQL refuses too: listings
carry a policy (forced, so it binds the tables' owner as well) that lets a transaction write only
rows of the parks of the user it acts for, and the audit log takes inserts only — a trigger
refuses any change or deletion, whoever asks. A transaction names its user with
:func:`acting_as`; one that names nobody writes no listing. Only superusers and roles with
BYPASSRLS pass, so the service connects as a role of its own that owns its tables (the policy is
forced on owners too). The policies and the trigger are made by the schema migrations
(``siteselect/migrations/versions``), with the tables they guard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:  # accounts builds on the store, whose migrations install these policies
    from siteselect.accounts import User


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
