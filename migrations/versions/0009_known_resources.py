"""Known apps, spaces and organizations, kept from every event and usage event by triggers.

Each event sights resources: its actee when that is an app, a space or an organization (with the
name the event gives it), its space and its organization; each usage event its app (the parent app
of a process or task), space and organization. A resource's name is the one the newest sighting with
a name gives (its guid until one does; named_at says when), an app's state that of its newest start
or stop; its space and organization never change (Cloud Foundry moves no app between spaces, nor
spaces between organizations). Deleting events forgets nothing: a resource once known stays known.

On PostgreSQL one statement-level trigger per table and statement aggregates its sightings; on SQLite
a row-level one upserts each. Existing events are read here.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = ("kind, guid, name, named_at, space_guid, organization_guid, state, state_at, first_seen_at, "
           "last_seen_at")

def _sighting(kind, guid, name, space_guid, organization_guid, state, at, where):
    return (f"SELECT {kind} AS kind, {guid} AS guid, {name} AS name, {space_guid} AS space_guid,"
            f" {organization_guid} AS organization_guid, {state} AS state, {at} AS at {{source}} WHERE {where}")


# The sightings of one row {r} (a table alias on PostgreSQL, NEW on SQLite) of each table, one SELECT each.
APP_STATE = ("CASE WHEN {r}.actee_type = 'app' THEN CASE {r}.type WHEN 'audit.app.start' THEN 'STARTED'"
             " WHEN 'audit.app.restart' THEN 'STARTED' WHEN 'audit.app.stop' THEN 'STOPPED' END END")
USAGE_APP = "COALESCE(NULLIF({r}.parent_app_guid, ''), NULLIF({r}.app_guid, ''))"
USAGE_SPACE = _sighting("'space'", "{r}.space_guid", "NULLIF({r}.space_name, '')", "NULL", "{r}.org_guid", "NULL",
                        "{r}.created_at", "{r}.space_guid <> ''")
USAGE_ORGANIZATION = _sighting("'organization'", "{r}.org_guid", "NULL", "NULL", "NULL", "NULL", "{r}.created_at",
                               "{r}.org_guid <> ''")
SIGHTINGS = {
    "events": (
        _sighting("{r}.actee_type", "{r}.actee", "NULLIF({r}.actee_name, '')",
                  "CASE WHEN {r}.actee_type = 'app' THEN {r}.space_guid END",
                  "CASE WHEN {r}.actee_type <> 'organization' THEN {r}.organization_guid END", APP_STATE,
                  "{r}.timestamp", "{r}.actee_type IN ('app', 'space', 'organization')"),
        _sighting("'space'", "{r}.space_guid", "NULL", "NULL", "{r}.organization_guid", "NULL", "{r}.timestamp",
                  "{r}.space_guid IS NOT NULL"),
        _sighting("'organization'", "{r}.organization_guid", "NULL", "NULL", "NULL", "NULL", "{r}.timestamp",
                  "{r}.organization_guid IS NOT NULL"),
    ),
    "app_usage_events": (
        _sighting("'app'", USAGE_APP, "COALESCE(NULLIF({r}.parent_app_name, ''), NULLIF({r}.app_name, ''))",
                  "{r}.space_guid", "{r}.org_guid", "CASE WHEN {r}.state IN ('STARTED', 'STOPPED') THEN {r}.state END",
                  "{r}.created_at", USAGE_APP + " IS NOT NULL"),
        USAGE_SPACE,
        USAGE_ORGANIZATION,
    ),
    "service_usage_events": (USAGE_SPACE, USAGE_ORGANIZATION),
}

# How a new sighting `excluded` (with named_at and state_at set only when it names or starts) folds into
# the known row; written without greatest()/least(), which SQLite lacks for NULLs, and without a table
# alias, which SQLite refuses inside a trigger.
def _newer(at, new, old):
    return (f"CASE WHEN excluded.{at} IS NOT NULL AND (known_resources.{at} IS NULL"
            f" OR excluded.{at} >= known_resources.{at}) THEN {new} ELSE {old} END")


UPSERT = "ON CONFLICT (kind, guid) DO UPDATE SET " + ", ".join((
    "name = " + _newer("named_at", "excluded.name", "known_resources.name"),
    "named_at = " + _newer("named_at", "excluded.named_at", "known_resources.named_at"),
    # An app never leaves its space, nor a space its organization: the first one seen stays.
    *(f"{column} = COALESCE(known_resources.{column}, excluded.{column})"
      for column in ("space_guid", "organization_guid")),
    "state = " + _newer("state_at", "excluded.state", "known_resources.state"),
    "state_at = " + _newer("state_at", "excluded.state_at", "known_resources.state_at"),
    "first_seen_at = CASE WHEN excluded.first_seen_at < known_resources.first_seen_at THEN excluded.first_seen_at"
    " ELSE known_resources.first_seen_at END",
    "last_seen_at = CASE WHEN excluded.last_seen_at > known_resources.last_seen_at THEN excluded.last_seen_at"
    " ELSE known_resources.last_seen_at END",
))


def _postgresql_fold(table, source):
    """One INSERT folding every sighting of `source`'s rows (aggregated: a key may come only once)."""
    sightings = " UNION ALL ".join(s.format(r="r", source=f"FROM {source} AS r") for s in SIGHTINGS[table])
    return (
        f"INSERT INTO known_resources ({COLUMNS})"
        " SELECT kind, guid, COALESCE((array_agg(name ORDER BY at DESC) FILTER (WHERE name IS NOT NULL))[1], guid),"
        " max(at) FILTER (WHERE name IS NOT NULL),"
        " max(space_guid), max(organization_guid),"
        " (array_agg(state ORDER BY at DESC) FILTER (WHERE state IS NOT NULL))[1],"
        " max(at) FILTER (WHERE state IS NOT NULL), min(at), max(at)"
        f" FROM ({sightings}) AS s WHERE guid IS NOT NULL GROUP BY kind, guid"
        # Rows in key order, so concurrent writers lock them in the same order.
        f" ORDER BY kind, guid {UPSERT}"
    )


def _sqlite_folds(table, row, source=""):
    """One upsert per sighting of `row` (NEW in a trigger; a table alias with `source` for existing rows)."""
    return [
        f"INSERT INTO known_resources ({COLUMNS}) SELECT kind, guid, COALESCE(name, guid),"
        " CASE WHEN name IS NOT NULL THEN at END, space_guid, organization_guid, state,"
        " CASE WHEN state IS NOT NULL THEN at END, at, at"
        f" FROM ({sighting.format(r=row, source=source)}) AS s WHERE guid IS NOT NULL {UPSERT}"
        for sighting in SIGHTINGS[table]
    ]


def upgrade():
    op.create_table(
        "known_resources",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("guid", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("named_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("space_guid", sa.String(255), nullable=True),
        sa.Column("organization_guid", sa.String(255), nullable=True),
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "guid", name="pk_known_resources"),
    )
    op.create_index("ix_known_resources_kind_name", "known_resources", ["kind", "name"])
    op.create_index("ix_known_resources_kind_space_guid", "known_resources", ["kind", "space_guid"])
    op.create_index("ix_known_resources_kind_organization_guid", "known_resources", ["kind", "organization_guid"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in SIGHTINGS:
        if postgresql:
            op.execute(f"CREATE FUNCTION known_resources_from_{table}() RETURNS trigger LANGUAGE plpgsql AS $$"
                       f" BEGIN {_postgresql_fold(table, 'changed')}; RETURN NULL; END $$")
            op.execute(f"CREATE TRIGGER known_resources_on_{table} AFTER INSERT ON {table}"
                       f" REFERENCING NEW TABLE AS changed FOR EACH STATEMENT"
                       f" EXECUTE FUNCTION known_resources_from_{table}()")
            op.execute(_postgresql_fold(table, table))
        else:
            body = "; ".join(_sqlite_folds(table, "NEW"))
            op.execute(f"CREATE TRIGGER known_resources_on_{table} AFTER INSERT ON {table} BEGIN {body}; END")
            for statement in _sqlite_folds(table, "r", source=f"FROM {table} AS r"):
                op.execute(statement)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in SIGHTINGS:
        if postgresql:
            op.execute(f"DROP TRIGGER known_resources_on_{table} ON {table}")
            op.execute(f"DROP FUNCTION known_resources_from_{table}()")
        else:
            op.execute(f"DROP TRIGGER known_resources_on_{table}")
    op.drop_table("known_resources")
