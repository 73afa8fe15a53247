"""Runs an importer against the store without stalling the event loop.

Both passes are generators advanced on the loop in slices (``ghost_addons.slicing``);
between slices the loop serves the proxy and the API. Flows are stored in batches
through ``store.add_flows`` (which commits and publishes ``flow.created`` per flow).
If the import fails part way (the client went away, the database refused a batch in a
way we cannot attribute to one flow), the flows already stored by this import are
deleted again: a session is never left half-imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ghost_addons.ids import new_id
from ghost_addons.model import Flow
from ghost_addons.slicing import Slicer, drain
from plugins.importers.contract import Importer, ImportResult, InThread, SkippedEntry
from plugins.importers.longstrings import remove_sidecars

STORE_BATCH = 200
CANCEL_CHECK_EVERY = 100

class FlowStore(Protocol):
    async def add_flows(self, flows: list[Flow]) -> Any: ...

    async def write(self, fn: Callable[..., Any], *args: Any) -> Any: ...


class ImportCancelled(Exception):
    """The client went away; what this import stored was removed."""


def _delete_flows(conn: Any, ids: list[str]) -> None:
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        conn.execute(f"DELETE FROM flows WHERE id IN ({','.join('?' * len(chunk))})", chunk)


def prepare_flow(flow: Flow, session_id: str, importer_name: str) -> Flow:
    """A fresh ULID, the target session, source import, metadata.import_source."""
    flow.id = new_id()
    flow.session_id = session_id
    flow.source = "import"
    flow.metadata = {**(flow.metadata or {}), "import_source": importer_name}
    if flow.tags is None:
        flow.tags = []
    return flow


async def run_import(
    importer: Importer,
    path: Path,
    session_id: str,
    store: FlowStore,
    cancelled: Callable[[], bool] = lambda: False,
) -> ImportResult:
    """Scan, then convert and store. Raises ImportRejected (nothing stored) when the
    scan fails, ImportCancelled when ``cancelled()`` turns true part way. ``entries`` may
    yield None while it works on one long entry (a chance to give the loop a turn), or an
    ``InThread`` step, run in a worker thread."""
    try:
        return await _run_import(importer, path, session_id, store, cancelled)
    finally:
        await asyncio.to_thread(remove_sidecars, path)


async def _run_import(
    importer: Importer,
    path: Path,
    session_id: str,
    store: FlowStore,
    cancelled: Callable[[], bool],
) -> ImportResult:
    slicer = Slicer()
    await drain(importer.scan(path), slicer)
    result = ImportResult()
    stored: list[str] = []
    pending: list[tuple[int, Flow]] = []

    async def flush() -> None:
        nonlocal pending
        batch, pending = pending, []
        if not batch:
            return
        try:
            await store.add_flows([flow for _, flow in batch])
            stored.extend(flow.id for _, flow in batch)
            result.imported += len(batch)
        except Exception:  # find the flow(s) the database refused, keep the rest
            for index, flow in batch:
                try:
                    await store.add_flows([flow])
                except Exception as exc:  # noqa: BLE001 - reported per entry as the spec says
                    result.skip(f"{importer.noun} {index}: not stored: {exc}")
                else:
                    stored.append(flow.id)
                    result.imported += 1

    try:
        index = -1
        for item in importer.entries(path):
            if item is None:
                await slicer.tick()
                continue
            if isinstance(item, InThread):
                await asyncio.to_thread(item.run)
                continue
            index += 1
            if isinstance(item, SkippedEntry):
                result.skip(item.message(importer.noun))
            else:
                pending.append((index, prepare_flow(item, session_id, importer.name)))
                if len(pending) >= STORE_BATCH:
                    await flush()
            if index % CANCEL_CHECK_EVERY == 0 and cancelled():
                raise ImportCancelled(f"import cancelled after {index} {importer.noun}s")
            await slicer.tick()
        await flush()
    except BaseException:
        if stored:
            await asyncio.shield(store.write(_delete_flows, stored))
        raise
    return result
