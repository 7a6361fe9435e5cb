"""The read snapshot: what readers see while a writer works.

DuckDB's file lock admits one writing process or many reading ones, never both. Writers (``twin
ingest``, ``twin demo``, the generator) open the warehouse file itself, ``data/twin.duckdb``; at the
end of each successful write job they *publish*: checkpoint, copy the file to a temporary file in the
same folder, and ``os.replace`` it onto ``data/twin.read.duckdb``. Readers (the dashboard, ``twin
quarantine``, the analytics commands) open that snapshot read-only, one short-lived connection per
query. A reader that opened the old snapshot keeps reading it (the replaced file lives on until it is
closed); the next connection sees the new one. So readers never meet the writer's lock and always see
the data as of the last finished write job.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from twin.errors import WarehouseError

SNAPSHOT_SUFFIX = ".read.duckdb"


def snapshot_path(warehouse: str | Path) -> Path:
    """The read snapshot of a warehouse file: ``data/twin.duckdb`` -> ``data/twin.read.duckdb``.

    >>> snapshot_path("data/twin.duckdb").as_posix()
    'data/twin.read.duckdb'
    """
    path = Path(warehouse)
    stem = path.name[: -len(".duckdb")] if path.name.endswith(".duckdb") else path.name
    return path.with_name(stem + SNAPSHOT_SUFFIX)


def publish(con: Any, warehouse: str | Path) -> Path:
    """Publish the warehouse's committed state as the read snapshot (atomically).

    Call it with the open write connection, after the job's last commit: holding the connection keeps
    every other writer out while the file is copied.

    Args:
        con: The open write connection of ``warehouse`` (no transaction open).
        warehouse: The warehouse file.

    Returns:
        The snapshot path.

    Raises:
        WarehouseError: The checkpoint or the copy failed.
    """
    import duckdb

    source = Path(warehouse)
    target = snapshot_path(source)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        con.execute("checkpoint")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except (OSError, duckdb.Error) as exc:
        tmp.unlink(missing_ok=True)
        raise WarehouseError(f"{source}: cannot publish the read snapshot {target} ({exc})") from exc
    return target
