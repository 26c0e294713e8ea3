"""Shared fixtures: every database test runs once on SQLite and once on PostgreSQL.

PostgreSQL tests skip with a reason when no server answers, unless
SAMVERKAN_REQUIRE_PG=1 (set by .ci/run), which turns that skip into a failure.
Each PostgreSQL test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from engine import db
from engine.agreement import Agreement, load_agreement
from engine.plan import load_plan

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
BORAS = ROOT / "config" / "boras-2015.yaml"
MINIMAL = DATA / "minimal.yaml"

PG_URL = os.environ.get("SAMVERKAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("SAMVERKAN_REQUIRE_PG") == "1"

_pg_state: dict[str, str | None] = {}


def _pg_unreachable_reason() -> str | None:
    if "reason" not in _pg_state:
        try:
            probe = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with probe.connect() as conn:
                conn.execute(text("select 1"))
            probe.dispose()
            _pg_state["reason"] = None
        except Exception as exc:  # any failure to connect means "not reachable"
            _pg_state["reason"] = f"PostgreSQL på {db.redact(PG_URL)} svarar inte: {str(exc).splitlines()[0]}"
    return _pg_state["reason"]


def require_postgresql() -> None:
    reason = _pg_unreachable_reason()
    if reason is None:
        return
    if REQUIRE_PG:
        pytest.fail(f"SAMVERKAN_REQUIRE_PG=1 men {reason}")
    pytest.skip(reason)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema."""
    require_postgresql()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same scenario against each backend: a new, empty database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'samverkan.db'}"
    return str(request.getfixturevalue("pg_url"))


# Running every migration costs ~0.7 s, more than most tests themselves, and a loaded Borås
# another ~0.5 s: the `engine` fixture starts from a copy of a database upgraded once per
# test session, and fixtures such as the web's `boras_due` from a copy of the state they
# built the first time (``Snapshots``). A copy is a SQLite file, or the SQL of a PostgreSQL
# schema as pg_dump writes it. db.upgrade still runs on the copy and finds it at head; the
# migrations themselves are tested from empty databases (db_url).


def _schema_of(url: str) -> str:
    return str(make_url(url).query["options"]).rsplit("=", 1)[-1]  # -csearch_path=<schema>, as pg_url makes it


def _pg_dump(schema: str) -> str | None:
    """The schema's DDL and rows, with its name as {schema}; None without pg_dump."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return None
    url = make_url(PG_URL)
    dump = subprocess.run(
        [
            pg_dump,
            *("--inserts", "--no-owner", "--no-privileges", "--schema", schema),
            *("--host", url.host or "127.0.0.1", "--port", str(url.port or 5432)),
            *("--username", url.username or "postgres", url.database or "postgres"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # psql's own lines (\restrict …) and the schema's creation are not SQL for this connection.
    lines = [
        line
        for line in dump.splitlines()
        if not line.startswith("\\") and not line.startswith(f"CREATE SCHEMA {schema}")
    ]
    return "\n".join(lines).replace(schema, "{schema}")


class Snapshots:
    """A database state built once per session per backend and copied into each test's database."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._saved: dict[tuple[str, str], Path | str | None] = {}

    def restore(self, engine: Engine, key: str, build: Callable[[Engine], None]) -> Engine:
        """``engine``'s database as ``build`` leaves a new one: built the first time, copied after."""
        url = engine.url.render_as_string(hide_password=False)
        backend = engine.dialect.name
        saved = self._saved.get((backend, key))
        if saved is None:
            build(engine)
            engine.dispose()
            self._saved[(backend, key)] = self._save(url, backend, key)
            return engine
        engine.dispose()
        if backend == "sqlite":
            assert isinstance(saved, Path)
            shutil.copyfile(saved, engine.url.database or "")
        else:
            assert isinstance(saved, str)
            schema = _schema_of(url)
            admin = create_engine(PG_URL)
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE; CREATE SCHEMA "{schema}"')
                conn.exec_driver_sql(saved.replace("{schema}", schema))
            admin.dispose()
        return engine

    def _save(self, url: str, backend: str, key: str) -> Path | str | None:
        if backend == "sqlite":
            copy = self._folder / f"{key}.db"
            shutil.copyfile(make_url(url).database or "", copy)
            return copy
        return _pg_dump(_schema_of(url))


@pytest.fixture(scope="session")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> Snapshots:
    return Snapshots(tmp_path_factory.mktemp("snapshots"))


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "samverkan.db"
    eng = db.connect(f"sqlite:///{path}")
    db.upgrade(eng)
    eng.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str | None]:
    if _pg_unreachable_reason() is not None:
        yield None
        return
    schema = "samverkan_template_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in PG_URL else "?"
        eng = db.connect(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")
        db.upgrade(eng)
        eng.dispose()
        yield _pg_dump(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An upgraded, empty database."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        if not path.exists():
            shutil.copy2(request.getfixturevalue("_sqlite_template"), path)
    else:
        template = request.getfixturevalue("_pg_template")
        if template is not None:
            admin = create_engine(PG_URL)
            with admin.begin() as conn:
                conn.exec_driver_sql(template.replace("{schema}", _schema_of(db_url)))
            admin.dispose()
    eng = db.connect(db_url)
    db.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def boras() -> Agreement:
    return load_agreement(BORAS)


@pytest.fixture(scope="session")
def minimal() -> Agreement:
    return load_agreement(MINIMAL)


@pytest.fixture
def loaded(engine: Engine, boras: Agreement) -> Engine:
    """A database holding the Borås agreement, loaded when it began (first period 2016)."""
    with db.transaction(engine) as session:
        load_plan(session, boras, now=datetime(2016, 1, 4, 9, 0, tzinfo=UTC))
    return engine


def _read_until(proc: subprocess.Popen[str], needle: str, limit: float = 60) -> str:
    """Read the process's stderr until ``needle`` appears (a deadline, not a sleep)."""
    assert proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    seen = ""
    deadline = time.monotonic() + limit
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(timeout=left):
            raise AssertionError(f"{needle!r} not seen in {limit}s; got:\n{seen}")
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"process ended before {needle!r}:\n{seen}")
        seen += line
    return seen


@pytest.fixture
def read_until() -> Callable[..., str]:
    """Read a child process's stderr until a text appears, with a deadline (never a sleep)."""
    return _read_until
