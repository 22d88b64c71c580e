"""Bare extension instances, bound to the app in the factory."""
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.dialects import postgresql, sqlite

# Stable constraint and index names, so migrations can refer to them by name on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Rows are presented after the commit that wrote them; expiring them would reload each one.
db = SQLAlchemy(
    metadata=MetaData(naming_convention=NAMING_CONVENTION),
    session_options={"expire_on_commit": False},
)
migrate = Migrate()


def read(statement, parameters=None):
    """Run a read of plain rows on the session's connection, in its transaction.

    It needs none of the ORM's machinery, which costs a few hundred microseconds a statement:
    more than the SQL of a tail poll. (Statements selecting ORM entities still go through
    db.session.)
    """
    return db.session.connection().execute(statement, parameters)


_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def dialect_insert(table):
    """An INSERT that can say ON CONFLICT, in the bound database's dialect (both speak it alike)."""
    return _INSERT[db.engine.dialect.name](table)
