"""A count of the writes to the listings, kept by the database: what tells a worker that its
listings are out of date, in one row's read.

Revision ID: 0008
Revises: 0007
Created: 2026-11-30

Workers ask whether the listings changed before every match and report, and in the background
every second. They used to count the listings and sum their revisions, a read of every row: 25 ms
at a city's hundred thousand. A trigger on the listings now adds one to ``listing_changes`` with
every statement that writes them, in the writer's transaction, so the count changes exactly when
a write is committed. On PostGIS the trigger's function runs as the tables' owner (``SECURITY
DEFINER``): the service's role may read the count, not set it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

POSTGRESQL = [
    """CREATE FUNCTION siteselect_count_listing_writes() RETURNS trigger
       LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
       BEGIN
         UPDATE listing_changes SET writes = writes + 1 WHERE id = 1;
         RETURN NULL;
       END $$""",
    "REVOKE ALL ON FUNCTION siteselect_count_listing_writes() FROM PUBLIC",
    """CREATE TRIGGER listings_counted AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON listings
       FOR EACH STATEMENT EXECUTE FUNCTION siteselect_count_listing_writes()""",
]
SQLITE = [  # SQLite's triggers are a row's: one more for every row written
    f"""CREATE TRIGGER listings_counted_{event.lower()} AFTER {event} ON listings
        BEGIN UPDATE listing_changes SET writes = writes + 1 WHERE id = 1; END"""
    for event in ("INSERT", "UPDATE", "DELETE")
]


def upgrade() -> None:
    changes = op.create_table(
        "listing_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("writes", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(changes, [{"id": 1, "writes": 0}])
    for statement in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(sa.text(statement))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP TRIGGER listings_counted ON listings"))
        op.execute(sa.text("DROP FUNCTION siteselect_count_listing_writes()"))
    else:
        for event in ("insert", "update", "delete"):
            op.execute(sa.text(f"DROP TRIGGER listings_counted_{event}"))
    op.drop_table("listing_changes")
