"""Every built-in exporter's output, byte for byte, against a golden file.

The flows below are fixed, and so is everything an export reads besides them (session
name, `exported_at`): the same inputs must give the same bytes, whatever the batch size.
A change in any format shows here as a diff a reviewer can read.

To accept a deliberate change, regenerate the files and review the diff in git:

    GHOST_UPDATE_GOLDEN=1 PYTHONPATH=$PWD .venv/bin/python -m pytest -q tests/plugins/exporters/test_golden.py
    git diff tests/data/golden/exporters/

With GHOST_UPDATE_GOLDEN=1 each comparison writes its file and is skipped instead.
"""

from __future__ import annotations

import difflib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ghost_addons.model import Flow
from plugins.exporters import BUILTIN_EXPORTERS
from plugins.exporters.contract import Exporter, ExportInfo, export_chunks
from tests.plugins.exporters.flows import PNG, make_flow

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "data" / "golden" / "exporters"
UPDATE = os.environ.get("GHOST_UPDATE_GOLDEN") == "1"

SESSION_ID = "01JNG4XD3N5E551000000000ZZ"
EXPORTED_AT = datetime(2026, 3, 8, 15, 0, 0, tzinfo=UTC)
STARTED_AT = datetime(2026, 3, 8, 14, 30, 0, 250000, tzinfo=UTC)

def golden_flows() -> list[Flow]:
    """JSON body, form body, binary bodies, a query string, non-ASCII header values, a
    redirect and a failed flow with no response: one session, one second apart."""

    def at(second: int) -> dict[str, object]:
        return {"id": f"01JNG4XD3NF1W0000000000{second:03d}", "session_id": SESSION_ID,
                "started_at": STARTED_AT + timedelta(seconds=second)}

    return [
        make_flow("POST", "https://api.example.com/v1/items",
                  headers=[("Host", "api.example.com"), ("Content-Type", "application/json"),
                           ("Authorization", "Bearer golden-token")],
                  body=b'{"name": "widget", "price": 9.5, "tags": ["a", "b"]}',
                  status=201, response_headers=[("Content-Type", "application/json"),
                                                ("Location", "/v1/items/42")],
                  response_body=b'{"id": 42, "name": "widget"}', tags=["api"], **at(1)),
        make_flow("POST", "https://shop.example.com/login",
                  headers=[("Host", "shop.example.com"),
                           ("Content-Type", "application/x-www-form-urlencoded"),
                           ("Cookie", "sid=abc; theme=dark")],
                  body=b"user=alice&password=%3Dsecret&remember=on",
                  response_headers=[("Content-Type", "text/html; charset=utf-8"),
                                    ("Set-Cookie", "sid=new; Path=/; HttpOnly; Secure")],
                  response_body="<p>Welcome, Zoë</p>".encode(), **at(2)),
        make_flow("GET", "https://cdn.example.com/logo.png",
                  headers=[("Host", "cdn.example.com"), ("Accept", "image/*")],
                  response_headers=[("Content-Type", "image/png")], response_body=PNG, **at(3)),
        make_flow("PUT", "https://files.example.com/upload/blob.bin",
                  headers=[("Host", "files.example.com"), ("Content-Type", "application/octet-stream")],
                  body=bytes(range(256)), status=204, response_headers=[], **at(4)),
        make_flow("GET", "https://api.example.com/v1/search?q=caf%C3%A9&tag=a&tag=b&empty=&page=2",
                  headers=[("Host", "api.example.com"), ("Accept-Language", "de-DE"),
                           ("X-Customer", "Zoë Ångström"), ("X-Greeting", "こんにちは")],
                  response_headers=[("Content-Type", "application/json; charset=utf-8"),
                                    ("X-Served-By", "café-1 ✓")],
                  response_body='{"results": ["crème brûlée"]}'.encode(), **at(5)),
        make_flow("GET", "http://example.com/old-page",
                  headers=[("Host", "example.com")], status=301,
                  response_headers=[("Location", "https://example.com/new-page"),
                                    ("Content-Length", "0")],
                  timings=None, server_addr="93.184.216.34:80", **at(6)),
        make_flow("GET", "http://127.0.0.1:9/refused",
                  headers=[("Host", "127.0.0.1:9")], status=None, error="Connection refused",
                  timings=None, duration_us=800, server_addr="", tags=["error"], **at(7)),
    ]


def info() -> ExportInfo:
    return ExportInfo(session_id=SESSION_ID, session_name="Golden Session — QA",
                      exported_at=EXPORTED_AT, total_flows=len(golden_flows()))


def export(exporter: Exporter, batch: int = 5_000) -> bytes:
    return b"".join(export_chunks(exporter, info(), golden_flows(), batch=batch))


def golden_path(exporter: Exporter) -> Path:
    return GOLDEN_DIR / f"{exporter.name}.{exporter.extension}"


def readable_diff(expected: bytes, got: bytes, name: str) -> str:
    lines = difflib.unified_diff(expected.decode("utf-8", "backslashreplace").splitlines(),
                                 got.decode("utf-8", "backslashreplace").splitlines(),
                                 f"golden/{name}", "exported", lineterm="", n=1)
    return "\n".join(list(lines)[:60])


@pytest.mark.parametrize("exporter", BUILTIN_EXPORTERS, ids=lambda e: e.name)
def test_export_matches_its_golden_file(exporter: Exporter) -> None:
    got = export(exporter)
    path = golden_path(exporter)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(got)
        pytest.skip(f"GHOST_UPDATE_GOLDEN=1: wrote {path}")
    assert path.is_file(), f"no golden file {path}; make it with GHOST_UPDATE_GOLDEN=1 (see this module)"
    expected = path.read_bytes()
    assert got == expected, (
        f"{exporter.name} export differs from {path} (regenerate with GHOST_UPDATE_GOLDEN=1 if "
        f"the change is meant):\n{readable_diff(expected, got, path.name)}")


@pytest.mark.parametrize("exporter", BUILTIN_EXPORTERS, ids=lambda e: e.name)
def test_the_same_flows_export_to_the_same_bytes(exporter: Exporter) -> None:
    assert export(exporter) == export(exporter)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("exporter", BUILTIN_EXPORTERS, ids=lambda e: e.name)
def test_batch_size_does_not_change_the_bytes(exporter: Exporter, batch: int) -> None:
    """The store feeds exporters 5,000 flows at a time; a session split anywhere else
    (1 and 3 here, so batches end mid-session) must export the same file."""
    assert export(exporter, batch=batch) == export(exporter)


def test_every_golden_file_belongs_to_an_exporter() -> None:
    expected = {golden_path(e).name for e in BUILTIN_EXPORTERS}
    assert {p.name for p in GOLDEN_DIR.iterdir()} == expected


def test_the_golden_session_covers_what_it_promises() -> None:
    flows = golden_flows()
    content_types = {f.request.content_type for f in flows}
    assert {"application/json", "application/x-www-form-urlencoded", "application/octet-stream"} <= content_types
    assert any(f.response and f.response.content_type == "image/png" for f in flows)
    assert any(f.response is None and f.error for f in flows)
    assert any(not v.isascii() for f in flows for _, v in f.request.headers)
    assert any(f.response and not v.isascii() for f in flows for _, v in f.response.headers)
    assert any("?" in f.request.url for f in flows)
    assert any(f.response and 300 <= f.response.status_code < 400 for f in flows)
    assert len({f.id for f in flows}) == len(flows)
