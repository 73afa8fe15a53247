"""Benchmark: HAR import of one large body and of many entries, while the proxy runs.

Two files are written, then each is imported into a real `mitmdump -s ghost.py` through
the API (curl uploads it) while pingers measure GET /api/v1/health and a request through
the proxy every 10 ms, and a probe plugin measures the longest event-loop gap (see
bench_export.py, whose harness this reuses):

1. one entry whose response body is 64 MB (base64 of 48 MB of random bytes);
2. 100,000 small entries.

    .venv/bin/python scripts/bench_har_import.py [--body-mb 64] [--entries 100000]

Targets (issue 14): import time linear in the file size, no proxy or API stall above 100 ms.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import tempfile
from pathlib import Path

from bench_export import import_through_api


def one_large_body(path: Path, megabytes: int) -> None:
    body = base64.b64encode(os.urandom(megabytes * 1024 * 1024 * 3 // 4)).decode("ascii")
    entry = {"startedDateTime": "2026-01-01T00:00:00Z", "time": 1,
             "request": {"method": "GET", "url": "http://big.example/blob", "httpVersion": "HTTP/1.1",
                         "cookies": [], "headers": [], "queryString": [], "headersSize": -1,
                         "bodySize": 0},
             "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                          "cookies": [], "headers": [{"name": "Content-Type", "value": "image/png"}],
                          "content": {"size": len(body) * 3 // 4, "mimeType": "image/png",
                                      "encoding": "base64", "text": body},
                          "redirectURL": "", "headersSize": -1, "bodySize": -1},
             "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}
    path.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"},
                                        "entries": [entry]}}))


def many_entries(path: Path, count: int) -> None:
    with path.open("w") as out:
        out.write('{"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, '
                  '"entries": [\n')
        for i in range(count):
            entry = {"startedDateTime": "2026-01-01T00:00:00Z", "time": 1,
                     "request": {"method": "GET", "url": f"http://many.example/item/{i}?q={i}",
                                 "httpVersion": "HTTP/1.1", "cookies": [],
                                 "headers": [{"name": "Accept", "value": "application/json"}],
                                 "queryString": [{"name": "q", "value": str(i)}],
                                 "headersSize": -1, "bodySize": 0},
                     "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1",
                                  "cookies": [], "headers": [{"name": "Content-Type",
                                                              "value": "application/json"}],
                                  "content": {"size": 20, "mimeType": "application/json",
                                              "text": json.dumps({"id": i, "ok": True})},
                                  "redirectURL": "", "headersSize": -1, "bodySize": 20},
                     "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0}}
            out.write(("," if i else "") + json.dumps(entry) + "\n")
        out.write("]}}\n")


def report(name: str, har: Path, result: dict) -> None:
    size = har.stat().st_size / (1024 * 1024)
    print(f"{name}: {size:.0f} MB file, HTTP {result['status']}, {result['result']}, "
          f"{result['seconds']:.1f} s ({size / max(result['seconds'], 1e-9):.1f} MB/s)")
    print(f"  longest wait  proxy {result['proxy_worst_ms']:.0f} ms (idle {result['proxy_idle_ms']:.0f}), "
          f"API {result['api_worst_ms']:.0f} ms (idle {result['api_idle_ms']:.0f}), "
          f"loop gap {result['loop']['wall']} ms wall / {result['loop']['cpu']} ms CPU "
          f"(idle {result['loop_idle']['wall']} / {result['loop_idle']['cpu']})")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--body-mb", type=int, default=64)
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ghost-bench-har-") as tmp:
        work = Path(tmp)
        for name, build, size in (("one large body", one_large_body, args.body_mb),
                                  ("many entries", many_entries, args.entries)):
            har = work / f"{name.replace(' ', '-')}.har"
            build(har, size)
            home = work / f"home-{name.replace(' ', '-')}"
            report(f"{name} ({size:,})", har, import_through_api(home, [har]))
            har.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
