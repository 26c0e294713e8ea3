"""Database connections and schema upgrades; each dialect difference lives here.

SQLite is the embedded default (a new file is created 0600: it holds the signing
secret and the password hashes); PostgreSQL (``postgresql+psycopg://``) is for several
instances sharing the work. The schema is always brought to the newest Alembic
revision before use, so ``init`` both creates and upgrades.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from rules.errors import DatabaseNotReady

DEFAULT_URL = "sqlite:///samverkan.db"


# What the edges hold: an opened database, passed to engine.api and engine.tick.
# (A SQLAlchemy Engine; the name keeps "engine" for the package.)
Database = Engine


def database_url(flag: str | None = None) -> str:
    """``--db`` wins over ``SAMVERKAN_DB``, which wins over the embedded default."""
    return flag or os.environ.get("SAMVERKAN_DB") or DEFAULT_URL


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def connect(url: str) -> Engine:
    """An Engine for ``url``; a URL that cannot work is a one-line DatabaseNotReady."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseNotReady(url, "ogiltig databas-URL (t.ex. sqlite:///samverkan.db)") from None
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        _create_private(parsed.database)
    if parsed.get_backend_name() == "sqlite":
        # Another process may hold the write lock for a moment; wait instead of failing.
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        if parsed.database in (None, "", ":memory:"):
            # One shared connection, or every thread would see its own empty database.
            kwargs["poolclass"] = StaticPool
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise DatabaseNotReady(redact(url), f"databasdrivrutinen saknas ({exc})") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _create_private(path: str) -> None:
    """Create a new SQLite file readable by its owner only (0600), before SQLite does (umask, often 0644).

    The file holds the signing secret (engine.keys) unless SAMVERKAN_SECRET is set, and
    every user's password hash. SQLite gives its -journal and -wal files the database
    file's mode. An existing file is left as it is: its owner chose its mode.
    """
    if path.startswith("file:"):
        return  # a URI filename: SQLite's own syntax, created by SQLite
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # a folder that is missing or not writable: SQLite says so when it connects
    os.close(fd)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("engine") / "migrations"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest revision; True when anything was applied."""
    try:
        before = current_revision(engine)
        if before == head_revision():
            return False
        cfg = _alembic_config()
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # A batch migration copies a table and drops the old one; with foreign keys
                # on, the drop fails while any row refers to it. SQLite ignores the pragma
                # inside a transaction, so it is set before the migration's transaction.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise DatabaseNotReady(
                                redact(str(engine.url)), f"uppgraderingen bröt {len(broken)} referenser; inget ändrat"
                            )
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()
        return True
    except DatabaseError as exc:
        raise DatabaseNotReady(redact(str(engine.url)), _reason(exc)) from None


def require_schema(engine: Engine) -> None:
    """Refuse to work on a database that ``init`` has not prepared."""
    try:
        rev = current_revision(engine)
    except DatabaseError as exc:  # OperationalError (cannot connect) and "file is not a database"
        raise DatabaseNotReady(redact(str(engine.url)), _reason(exc)) from None
    if rev is None:
        raise DatabaseNotReady(
            redact(str(engine.url)), "databasen är inte initierad; kör 'samverkan init --config FIL' först"
        )
    if rev != head_revision():
        raise DatabaseNotReady(
            redact(str(engine.url)), f"schemat är version {rev}, behöver {head_revision()}; kör 'samverkan init'"
        )


# What the database said, for the causes a person can fix, in Swedish. SQLite's words
# (sqlite3 has no codes for them before Python 3.11's sqlite_errorname, and these are stable
# across its versions); PostgreSQL's SQLSTATE.
_SQLITE_SAYS = {
    "file is not a database": "filen är ingen SQLite-databas (fel --db?)",
    "attempt to write a readonly database": "databasen är skrivskyddad; inget ändrades",
    "unable to open database file": "databasfilen kan inte öppnas eller skapas (finns mappen, och får den skrivas?)",
    "database disk image is malformed": "databasfilen är skadad; återställ den från en säkerhetskopia",
}
_POSTGRESQL_SAYS = {
    "25006": "databasen tar bara emot läsning (read-only); inget ändrades",
    "42501": "användaren saknar behörighet att skriva; inget ändrades",
}


def _said(exc: DatabaseError) -> str | None:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None)
    if code in _POSTGRESQL_SAYS:
        return _POSTGRESQL_SAYS[code]
    first = (str(orig).strip().splitlines() or [""])[0]
    return next((sv for en, sv in _SQLITE_SAYS.items() if first.startswith(en)), None)


def _reason(exc: DatabaseError) -> str:
    return _said(exc) or "kan inte ansluta: " + (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]


def refusal(exc: BaseException, url: str) -> DatabaseNotReady | None:
    """``exc`` as one Swedish line when the database refused for a reason a person can fix, else None.

    For the edges, which catch what a command raised: a read-only database (a file mode,
    ``?mode=ro``, a read-only PostgreSQL) fails only at the first write, deep in a
    command; the transaction was rolled back, so nothing was written. Anything else
    (a constraint, a bug) is not a person's to fix, and None leaves it to be a traceback.
    """
    if isinstance(exc, DatabaseError):
        said = _said(exc)
        if said is not None:
            return DatabaseNotReady(redact(url), said)
    return None


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back on any error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory.begin() as session:
        yield session


def as_utc(value: Any) -> datetime:
    """An aggregate over a UTCDateTime column (MIN, MAX) as an aware UTC datetime.

    Aggregates skip the column type's result processing; SQLite returns text.
    """
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
