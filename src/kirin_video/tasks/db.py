"""Database engine and sessions: SQLite in WAL mode by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import contextvars
import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from kirin_video.config import Settings

_MIGRATION_LOCK = 0x6B6972696E  # "kirin"
_WRITE = contextvars.ContextVar("kirin_write_transaction", default=False)
#: Seconds to open a PostgreSQL connection, and to wait for a free one in the pool, before
#: giving up: while the database is down, requests answer 503 in seconds instead of hanging.
CONNECT_TIMEOUT_S = 5
POOL_TIMEOUT_S = 10
#: Connections a process keeps open: beyond SQLAlchemy's 5, each request that found none idle
#: opened one and closed it after, which cost 16 concurrent polls most of their CPU.
POOL_SIZE = 20
#: A pooled PostgreSQL connection idle this long is pinged before use; one back in the pool a
#: moment ago is not, or every poll would pay one more round trip for nothing.
PING_AFTER_IDLE_S = 1.0


class Database:
    """Owns the SQLAlchemy engine; hands out read and write sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds secrets
        return cls(settings.sqlalchemy_url)

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A transaction; ``write`` takes SQLite's write lock up front so it cannot deadlock."""
        token = _WRITE.set(write)
        try:
            with self._sessions() as session, session.begin():
                yield session
        finally:
            _WRITE.reset(token)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """Reads on a plain connection: no ORM session, for the hottest reads (a task poll).

        On PostgreSQL each statement is its own transaction: no BEGIN and COMMIT round trips.
        """
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as plain:
                yield plain.execution_options(isolation_level="AUTOCOMMIT")
            return
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """Reads in one transaction that all see the same moment, however many statements.

        PostgreSQL's default isolation lets each statement see what committed since the one
        before; a read that combines several (a task and its place in the queue) would mix two
        moments. SQLite's transaction already reads one snapshot in WAL mode.
        """
        with self.session() as session:
            if self.engine.dialect.name == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    def serialise(self, session: Session, *, scope: int, key: str) -> None:
        """Make transactions on the same ``key`` take turns until commit, on any database.

        SQLite's write transactions already run one at a time; PostgreSQL's do not, so an advisory
        lock (``scope``, a hash of ``key``) held to the end of the transaction does it there.
        """
        if self.engine.dialect.name == "postgresql":
            digest = hashlib.sha256(key.encode()).digest()[:4]
            session.execute(
                text("SELECT pg_advisory_xact_lock(:scope, :key)"),
                {"scope": scope, "key": int.from_bytes(digest, "big", signed=True)},
            )

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest Alembic revision."""
        config = Config()
        location = resources.files("kirin_video.tasks") / "migrations"
        config.set_main_option("script_location", str(location))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # nodes starting together take turns
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query right now."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def close(self) -> None:
        self.engine.dispose()


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now (down, cut off, pool exhausted)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | PoolTimeout)


def log_failure(
    logger: logging.Logger, exc: BaseException, message: str, *, level: int = logging.WARNING
) -> None:
    """A loop's failure: one line per pass in an outage, else the traceback at ``level``."""
    if unreachable(exc):
        logger.warning("%s: database unreachable", message)
    else:
        logger.log(level, "%s: %s", message, type(exc).__name__, exc_info=exc)


def _make_engine(url: str) -> Engine:
    if url.startswith("postgresql"):  # a request waits seconds for a dead server, not minutes
        given = "connect_timeout" in make_url(url).query  # the URL's own value wins
        engine = create_engine(
            url,
            pool_size=POOL_SIZE,
            pool_timeout=POOL_TIMEOUT_S,
            connect_args={} if given else {"connect_timeout": CONNECT_TIMEOUT_S},
        )
        _ping_when_idle(engine)
        return engine
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_timeout=POOL_TIMEOUT_S)
    engine = create_engine(
        url, pool_size=POOL_SIZE, connect_args={"check_same_thread": False, "timeout": 30}
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Check a connection that sat in the pool a while (the server may have restarted meanwhile).

    A failed ping makes the pool drop that connection and open another (``DisconnectionError``).
    """

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: the connection cannot be trusted
            raise DisconnectionError("ping failed") from exc

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checkout)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun explicitly below
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Straight on the driver: through SQLAlchemy's execution it cost a poll's read a third more.
    driver = connection.connection.dbapi_connection
    driver.execute("BEGIN IMMEDIATE" if _WRITE.get() else "BEGIN")
