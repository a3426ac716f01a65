"""Alembic's entry: migrations run on the connection ``siteselect.migrations`` hands over, inside the
transaction it has begun, so a migration that fails half-way changes nothing."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    render_as_batch=True,  # SQLite alters a table by copying it: batch mode does that for us
    transactional_ddl=True,
    transaction_per_migration=False,
)
with context.begin_transaction():  # the caller's transaction is open: this one joins it
    context.run_migrations()
