"""Two functions, run as the tables' owner, make and attach a layer version's partitions.

Revision ID: 0003
Revises: 0002
Created: 2026-11-29

The service's role is granted rows only, so it cannot attach a partition itself; these functions
(``SECURITY DEFINER``) do that and nothing else. PostGIS only: SQLite has no partitions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATEMENTS = [
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


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in STATEMENTS:
        op.execute(sa.text(statement))
