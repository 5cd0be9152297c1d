"""Opening a SQLite file the one way battwatch does: WAL, its pragmas, a damaged file moved aside."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from battwatch.adapters.trouble import describe

logger = logging.getLogger(__name__)

# SQLite's primary result codes for a file that is damaged or is not a database at all
SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26
# a whole-file check reads every page: cheap for an outbox, minutes for a years-old store on
# an SD card, where the first query that meets a bad page tells instead (see is_damage)
CHECK_MAX_BYTES = 64 * 1024 * 1024

_counted = threading.Lock()
_moved: list[Path] = []  # every file moved aside by this process, oldest first


class Unusable(Exception):
    """A database file that can neither be opened nor replaced (permissions, a full disk)."""


def is_damage(e: BaseException) -> bool:
    """Whether ``e`` says the file itself is damaged (not a full disk or a locked file)."""
    code = getattr(e, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB)
    # before Python 3.11 the code is not attached: SQLite's own words then
    text = str(e)
    return isinstance(e, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text)


def moved_aside() -> list[Path]:
    """The damaged files this process moved aside (for `status` and the tests)."""
    with _counted:
        return list(_moved)


Prepare = Callable[[sqlite3.Connection], None]


def _connect(path: Path, schema: str, synchronous: str, timeout: float, check: bool,
             check_same_thread: bool, prepare: Prepare | None) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, timeout=timeout, check_same_thread=check_same_thread)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        # writes are batched and reads are rare: a 512 kB page cache instead of 2 MB (Pi Zero)
        db.execute("PRAGMA cache_size=-512")
        if check and path.exists() and path.stat().st_size <= CHECK_MAX_BYTES:
            row = db.execute("PRAGMA quick_check(1)").fetchone()
            if row is None or row[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {row[0] if row else 'no answer'}")
        if prepare is not None:
            prepare(db)
        db.executescript(schema)
    except BaseException:
        db.close()
        raise
    return db


def _damaged(e: sqlite3.DatabaseError) -> bool:
    return is_damage(e) or str(e).startswith("integrity check")


def move_aside(path: Path, why: str, what: str) -> Path:
    """Rename ``path`` and its -wal and -shm files to ``<name>.damaged-<UTC time>``; logged
    and counted. Raises Unusable when the rename fails."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    try:
        for suffix in ("", "-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                side.rename(Path(f"{aside}{suffix}"))
    except OSError as e:
        raise Unusable(f"{what} {path}: not a usable SQLite database ({why}) and it cannot be "
                       f"moved aside ({e.strerror}): move it away by hand") from None
    with _counted:
        _moved.append(aside)
        n = len(_moved)
    # keeping the car's monitoring going matters more than the old file, which is kept for a
    # person to look at (sqlite3's .recover can rescue rows from it)
    logger.warning("%s %s: not a usable SQLite database (%s); moved it to %s and started a new one "
                   "(%d damaged file(s) moved aside since the start)", what, path, why, aside.name, n)
    return aside


def open_db(path: Path, schema: str, what: str, *, synchronous: str = "NORMAL", timeout: float = 30.0,
            check: bool = True, check_same_thread: bool = True,
            prepare: Prepare | None = None, moved: list[Path] | None = None) -> sqlite3.Connection:
    """``path`` opened in WAL mode with ``schema`` applied.

    ``synchronous``: FULL fsyncs every commit (the store: a power cut loses only what came
    after it); NORMAL, for outboxes, survives a crash of the process and spares the SD card.
    ``check`` runs SQLite's quick check on files up to CHECK_MAX_BYTES. A damaged file is
    moved aside (see ``move_aside``) and a fresh one made; anything else that keeps the file
    from opening (permissions, a full disk) raises Unusable with ``what`` and the path.
    ``prepare`` runs before the schema (to upgrade a file an earlier version wrote); the
    name a damaged file was moved to is appended to ``moved``.
    """
    try:
        return _connect(path, schema, synchronous, timeout, check, check_same_thread, prepare)
    except sqlite3.DatabaseError as e:
        if not _damaged(e):
            raise Unusable(f"{what} {path}: cannot open the database: {describe(e)} "
                           f"(check that {path.parent} is writable by this user and has room)") from None
        damage = str(e)
    aside = move_aside(path, damage, what)
    if moved is not None:
        moved.append(aside)
    try:
        return _connect(path, schema, synchronous, timeout, False, check_same_thread, prepare)
    except sqlite3.DatabaseError as e:
        raise Unusable(f"{what} {path}: cannot create a new database: {describe(e)}") from None
