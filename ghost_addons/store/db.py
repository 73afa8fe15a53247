"""Opening the SQLite database: one module decides the driver and the pragmas.

The pyenv Pythons here lack `enable_load_extension`, so Ghost uses `sqlean` (a drop-in
DB-API module with extension loading) and loads sqlite-vec into every connection.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlean as sqlite3
import sqlite_vec

from ghost_addons.store import search

if TYPE_CHECKING:  # sqlean mirrors the standard module's API
    import sqlite3 as _typed

    Connection = _typed.Connection
else:
    Connection = sqlite3.Connection
IntegrityError = sqlite3.IntegrityError
OperationalError = sqlite3.OperationalError
Row = sqlite3.Row


def connect(path: Path, *, readonly: bool = False) -> Connection:
    """A connection with WAL, foreign keys on, NORMAL sync, sqlite-vec loaded and the
    full-text search functions registered."""
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=30.0
    )
    conn.row_factory = sqlite3.Row
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.enable_load_extension(False)
    search.register(conn)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    else:
        conn.execute("PRAGMA query_only = ON")
    return conn
