"""Postman Collection v2.1.0: one request item per flow, URL as a raw string."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from ghost_addons.model import Flow
from plugins.exporters.contract import Exporter, ExportInfo, dumps_entry

POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
POSTMAN_SKIPPED_HEADERS = frozenset({"host", "content-length", "connection"})


def postman_item(flow: Flow) -> dict[str, Any]:
    req = flow.request
    request: dict[str, Any] = {
        "method": req.method,
        "header": [{"key": k, "value": v} for k, v in req.headers
                   if k.lower() not in POSTMAN_SKIPPED_HEADERS],
        "url": req.url,
    }
    if req.body:
        try:
            request["body"] = {"mode": "raw", "raw": req.body.decode("utf-8")}
        except UnicodeDecodeError:
            pass  # Postman's raw mode cannot carry binary bodies: omitted
    return {"name": f"{req.method} {req.path}", "request": request, "response": []}


def collection_id(session_id: str) -> str:
    """The same session always exports as the same collection (a name-based UUID): exports
    are reproducible, and importing a session's export again updates that collection in
    Postman instead of adding a copy."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ghost:session:{session_id}"))


class PostmanWriter:
    def __init__(self, info: ExportInfo) -> None:
        self.info = info
        self.count = 0

    def _head(self) -> bytes:
        info = {"_postman_id": collection_id(self.info.session_id), "name": self.info.session_name or "Ghost session",
                "schema": POSTMAN_SCHEMA}
        return b'{"info":' + orjson.dumps(info) + b',"item":[\n'

    def write(self, flows: Sequence[Flow]) -> Iterator[bytes]:
        for flow in flows:
            chunk = dumps_entry(postman_item(flow))
            yield (self._head() if self.count == 0 else b",\n") + chunk
            self.count += 1

    def close(self) -> Iterator[bytes]:
        if self.count == 0:
            yield self._head()
        yield b"\n]}\n"


POSTMAN_EXPORTER = Exporter(
    name="postman",
    title="Postman",
    extension="json",
    filename_suffix="_postman_collection",
    content_type="application/json; charset=utf-8",
    artifact_format="json",
    open=PostmanWriter,
)
