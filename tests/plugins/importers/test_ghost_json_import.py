from pathlib import Path

import orjson
import pytest

from plugins.exporters.contract import ExportInfo, export_chunks
from plugins.exporters.ghost_json import GHOST_JSON_EXPORTER
from plugins.importers.contract import ImportRejected, SkippedEntry
from plugins.importers.ghost_json import GHOST_JSON_IMPORTER, MAX_JSON_FLOWS, probe_ghost_json
from tests.plugins.exporters.flows import sample_session


def test_probe_accepts_an_array() -> None:
    probe_ghost_json(b"  \n[{}]")


@pytest.mark.parametrize("head,message", [
    (b'{"log": {"version": "1.2", "entries": []}}', "looks like a HAR file — use the /import/har"),
    (b'{"flows": []}', "expected an array of flow objects \\(starts with \\[\\)"),
    (b'{"log": null}', "expected an array of flow objects"),
    (b"\x89PNG\r\n", "expected an array of flow objects"),
    (b"   ", "empty"),
])
def test_probe_explains_what_is_wrong(head: bytes, message: str) -> None:
    with pytest.raises(ImportRejected, match=message):
        probe_ghost_json(head)


def test_export_then_import_keeps_every_field(tmp_path: Path) -> None:
    flows = sample_session()
    path = tmp_path / "s.json"
    path.write_bytes(b"".join(export_chunks(GHOST_JSON_EXPORTER, ExportInfo("s", "s"), flows)))
    assert list(GHOST_JSON_IMPORTER.scan(path))[-1] == len(flows)
    back = [item for item in GHOST_JSON_IMPORTER.entries(path) if item is not None]
    assert [f.to_dict() for f in back] == [f.to_dict() for f in flows]  # type: ignore[union-attr]


def test_flows_without_method_or_url_are_skipped(tmp_path: Path) -> None:
    good = sample_session()[0].to_dict()
    path = tmp_path / "s.json"
    path.write_bytes(orjson.dumps([good, {"request": {"url": "https://h/"}},
                                   {"request": {"method": "GET"}}, {"id": "x"}, 5, good]))
    items = [item for item in GHOST_JSON_IMPORTER.entries(path) if item is not None]
    skipped = [i.message("flow") for i in items if isinstance(i, SkippedEntry)]
    assert skipped == ["flow 1: missing request method", "flow 2: missing request URL",
                       "flow 3: missing request", "flow 4: not a JSON object"]
    assert len(items) == 6


def test_more_than_50000_flows_is_413(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"[" + b",".join([b"{}"] * (MAX_JSON_FLOWS + 1)) + b"]")
    with pytest.raises(ImportRejected, match="more than 50,000 flows") as info:
        list(GHOST_JSON_IMPORTER.scan(path))
    assert info.value.status == 413


def test_truncated_array_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(orjson.dumps([sample_session()[0].to_dict()] * 3)[:-40])
    with pytest.raises(ImportRejected, match="not complete"):
        list(GHOST_JSON_IMPORTER.scan(path))
