"""The oracle for the figures the store keeps beside its rows (app/store/upkeep.py): the audit-event counts,
recounted by GROUP BY over the events, and the known resources, folded again from every row by migration 0009's
own SQL (the triggers' rules, which upkeep.py took over). Deleting forgets no known resource, so the refold
merges into the table as it is: a store whose figures are whole is left unchanged by it."""
import importlib.util

from sqlalchemy import select, text

from app.base.extensions import db
from app.store.models import (
    CRASH_TYPES,
    EventCountByActeeDay,
    EventCountByActeeMonth,
    EventCountByDay,
    EventCountByTarget,
    KnownResource,
    record_columns,
)

from . import REPOSITORY

TARGETS = (("space_guid", "space"), ("organization_guid", "organization"), ("actee", "actee"), ("actor", "actor"),
           ("actor_name", "actor_name"))


def _migration_0009():
    path = REPOSITORY / "migrations" / "versions" / "0009_known_resources.py"
    spec = importlib.util.spec_from_file_location("migration_0009_known_resources", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recounted():
    """The counts as a GROUP BY over the events finds them now, and as the tables hold them (without zeros)."""
    day = "date(timestamp)" if db.engine.dialect.name == "sqlite" else "(timestamp AT TIME ZONE 'UTC')::date"
    expected_days = {(t, str(d)): n for t, d, n in db.session.execute(
        text(f"SELECT type, {day}, count(*) FROM events GROUP BY 1, 2"))}
    expected_targets = {}
    for column, kind in TARGETS:
        for guid, t, n in db.session.execute(text(
                f"SELECT {column}, type, count(*) FROM events WHERE {column} IS NOT NULL GROUP BY 1, 2")):
            expected_targets[(kind, guid, t)] = n
    crash_types = ", ".join(f"'{name}'" for name in sorted(CRASH_TYPES))
    expected_crashes = {(t, str(d), *actee): n for t, d, *actee, n in db.session.execute(text(
        f"SELECT type, {day}, actee, actee_type, actee_name, count(*) FROM events WHERE type IN ({crash_types})"
        " GROUP BY 1, 2, 3, 4, 5"))}
    month = "substr(timestamp, 1, 7)" if db.engine.dialect.name == "sqlite" else \
        "to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM')"
    for t, m, *actee, n in db.session.execute(text(
            f"SELECT type, {month}, actee, actee_type, count(*) FROM events WHERE type IN ({crash_types})"
            " GROUP BY 1, 2, 3, 4")):
        expected_crashes[(t, f"{m}-01", *actee)] = n
    crashes = {(r.type, str(r.day), r.actee, r.actee_type, r.actee_name): r.n
               for r in db.session.scalars(select(EventCountByActeeDay)) if r.n}
    crashes.update({(r.type, str(r.month), r.actee, r.actee_type): r.n
                    for r in db.session.scalars(select(EventCountByActeeMonth)) if r.n})
    days = {(r.type, str(r.day)): r.n for r in db.session.scalars(select(EventCountByDay)) if r.n}
    targets = {(r.target_type, r.target_guid, r.type): r.n for r in db.session.scalars(select(EventCountByTarget))
               if r.n}
    return (expected_days, expected_targets, expected_crashes), (days, targets, crashes)


def known_resources():
    return {(row.kind, row.guid): row._asdict() for row in db.session.execute(
        select(*record_columns(KnownResource))).all()}


def refolded_known_resources():
    """known_resources after every row of every event table is folded into it again by migration 0009's SQL
    (in a savepoint, undone after)."""
    migration = _migration_0009()
    postgresql = db.engine.dialect.name == "postgresql"
    with db.session.begin_nested() as savepoint:
        for table in migration.SIGHTINGS:
            statements = [migration._postgresql_fold(table, table)] if postgresql else \
                migration._sqlite_folds(table, "r", source=f"FROM {table} AS r")
            for statement in statements:
                db.session.execute(text(statement))
        refolded = known_resources()
        savepoint.rollback()
    return refolded


def _sighted_at(kind, guid, field, moment):
    """The values of `field` (name or state) that rows sight (kind, guid) with at `moment`."""
    migration = _migration_0009()
    sightings = " UNION ALL ".join(sighting.format(r="r", source=f"FROM {table} AS r")
                                   for table, table_sightings in migration.SIGHTINGS.items()
                                   for sighting in table_sightings)
    return set(db.session.scalars(text(f"SELECT {field} FROM ({sightings}) AS s WHERE kind = :kind AND guid = :guid"
                                       f" AND at = :at AND {field} IS NOT NULL"),
                                  {"kind": kind, "guid": guid, "at": moment}))


def _same_but_for_ties(known, refolded):
    """Whether two rows of a resource differ at most by a name or state given at the very moment of the kept
    one by rows that disagree: the newest wins, and of two at one moment the store keeps the one stored later,
    where the SQL fold picks either."""
    if known is None or refolded is None:
        return False
    for field, at in (("name", "named_at"), ("state", "state_at")):
        if known[field] != refolded[field] and known[at] == refolded[at] and known[field] in _sighted_at(
                known["kind"], known["guid"], field, known[at]):
            refolded = {**refolded, field: known[field]}
    return known == refolded


def assert_figures_exact():
    """The counts equal a recount from the events, and known_resources a refold of every row."""
    expected, kept = recounted()
    assert kept == expected
    known, refolded = known_resources(), refolded_known_resources()
    differing = [(known.get(key), refolded.get(key)) for key in known.keys() | refolded.keys()
                 if known.get(key) != refolded.get(key)]
    assert all(_same_but_for_ties(*pair) for pair in differing), differing[:3]
