"""Endpoints of a session: flows grouped by method + host + path template, with the
figures a comparison looks at, and a "shape" vector per endpoint.

A path template collapses ids: ``/users/42/orders/9f1c...`` becomes
``/users/{id}/orders/{id}``. The shape vector hashes what makes an endpoint what it is
(method, host, template segments, query parameter names, content types, status class)
into a fixed number of dimensions, so that two endpoints whose paths or parameters
differ a little (a renamed query parameter, an id the template did not catch) still land
close together.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ghost_addons.endpoints import is_id_segment, path_template  # noqa: F401 (this module's API)
from ghost_addons.model import Flow

SHAPE_DIMENSIONS = 128


@dataclass(slots=True)
class Endpoint:
    method: str
    host: str
    template: str
    count: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    durations_ms: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    query_names: Counter[str] = field(default_factory=Counter)
    request_types: Counter[str] = field(default_factory=Counter)
    response_types: Counter[str] = field(default_factory=Counter)
    example_url: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.method, self.host, self.template)

    @property
    def status(self) -> int:
        """The most common status code (0: no response)."""
        return self.statuses.most_common(1)[0][0] if self.statuses else 0

    @property
    def median_duration_ms(self) -> float:
        return round(statistics.median(self.durations_ms), 3) if self.durations_ms else 0.0

    @property
    def median_size(self) -> int:
        return int(statistics.median(self.sizes)) if self.sizes else 0

    def record(self, *, url: str, status: int, duration_ms: float, size: int,
               response_type: str = "", request_type: str = "") -> None:
        self.count += 1
        self.statuses[status] += 1
        self.durations_ms.append(duration_ms)
        self.sizes.append(size)
        try:
            query = urlsplit(url).query
        except ValueError:
            query = ""
        for name, _ in parse_qsl(query, keep_blank_values=True):
            self.query_names[name] += 1
        if request_type:
            self.request_types[_mime(request_type)] += 1
        if response_type:
            self.response_types[_mime(response_type)] += 1
        if not self.example_url:
            self.example_url = url

    def add(self, flow: Flow) -> None:
        resp = flow.response
        self.record(url=flow.request.url, status=resp.status_code if resp else 0,
                    duration_ms=flow.duration_ms, size=resp.body_size if resp else 0,
                    response_type=resp.content_type if resp else "")

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "host": self.host,
            "path": self.template,
            "count": self.count,
            "status": self.status,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "median_duration_ms": self.median_duration_ms,
            "median_size": self.median_size,
            "example_url": self.example_url,
        }

    def shape_tokens(self) -> list[tuple[str, float]]:
        tokens: list[tuple[str, float]] = [(f"method:{self.method}", 3.0),
                                           (f"host:{self.host}", 2.0)]
        segments = [s for s in self.template.split("/") if s]
        tokens.append((f"depth:{len(segments)}", 1.0))
        for pos, seg in enumerate(segments):
            # the last segment names the resource: weigh it most
            tokens.append((f"seg:{seg}", 3.0 if pos == len(segments) - 1 else 1.5))
            tokens.append((f"seg{pos}:{seg}", 1.0))
        for name in self.query_names:
            tokens.append((f"param:{name}", 0.5))
        for mime in self.request_types:
            if mime:
                tokens.append((f"req:{mime}", 0.5))
        for mime in self.response_types:
            if mime:
                tokens.append((f"resp:{mime}", 0.5))
        return tokens

    def shape(self, dimensions: int = SHAPE_DIMENSIONS) -> list[float]:
        """The endpoint's shape: hashed token weights, L2-normalised."""
        vector = [0.0] * dimensions
        for token, weight in self.shape_tokens():
            digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % dimensions
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[index] += sign * weight
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]


def _mime(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def group_endpoints(flows: Iterable[Flow], endpoints: dict[tuple[str, str, str], Endpoint]
                    | None = None) -> dict[tuple[str, str, str], Endpoint]:
    """Add flows to their endpoints (pass the dict again to add more batches)."""
    endpoints = {} if endpoints is None else endpoints
    for flow in flows:
        key = (flow.request.method, flow.request.host, path_template(flow.request.path))
        endpoint = endpoints.get(key)
        if endpoint is None:
            endpoint = endpoints[key] = Endpoint(*key)
        endpoint.add(flow)
    return endpoints
