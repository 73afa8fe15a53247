"""Write the hostile HAR corpus beside this file: `python tests/data/hostile_har/generate.py`.

Each file is small (under 300 KB) and aims at one way a HAR parser goes wrong: nesting,
numbers, encodings, wrong types, duplicate keys, truncation, surrogates. The test
(tests/security/test_hostile_har.py) imports every one through the real endpoint and checks
that each answer is a 2xx or a 4xx, that the event loop never stalls and that memory stays
bounded; it also checks that these files are what this script writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).parent


def entry(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1,
        "request": {"method": "GET", "url": "http://example.com/a", "httpVersion": "HTTP/1.1", "headers": [],
                    "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [], "cookies": [],
                     "content": {"size": 2, "mimeType": "text/plain", "text": "ok"}, "redirectURL": "",
                     "headersSize": -1, "bodySize": 2},
        "cache": {}, "timings": {"send": 0, "wait": 1, "receive": 0},
    }
    base.update(changes)
    return base


def har(*entries: object) -> str:
    return json.dumps({"log": {"version": "1.2", "creator": {"name": "hostile", "version": "1"},
                               "entries": list(entries)}})


GOOD = har(entry())
REQUEST_FIELDS = ("method", "url", "httpVersion", "headers", "queryString", "cookies", "headersSize", "bodySize",
                  "postData")
RESPONSE_FIELDS = ("status", "statusText", "httpVersion", "headers", "cookies", "content", "redirectURL",
                   "headersSize", "bodySize")
WRONG_VALUES = {"null": None, "number": 7, "string": "x", "list": [1], "object": {"a": 1}, "bool": True}


def wrong_types() -> Iterator[tuple[str, str]]:
    """One file per field and wrong type; each also carries a good entry, which must be imported."""
    for name, value in WRONG_VALUES.items():
        for key in ("startedDateTime", "time", "request", "response", "timings", "cache"):
            yield f"wrong-{key}-{name}", har(entry(**{key: value}), entry())
        for part, fields in (("request", REQUEST_FIELDS), ("response", RESPONSE_FIELDS)):
            for key in fields:
                inner = dict(entry()[part])  # type: ignore[arg-type]
                inner[key] = value
                yield f"wrong-{part}-{key}-{name}", har(entry(**{part: inner}), entry())
        yield f"wrong-header-{name}", har(entry(request={**entry()["request"], "headers": [value]}), entry())  # type: ignore[dict-item]
        yield f"wrong-content-text-{name}", har(entry(response={**entry()["response"],  # type: ignore[dict-item]
                                                               "content": {"size": 1, "text": value}}), entry())
        yield f"wrong-log-{name}", json.dumps({"log": value})
        yield f"wrong-entries-{name}", json.dumps({"log": {"version": "1.2", "entries": value}})
        yield f"wrong-root-{name}", json.dumps(value)


def corpus() -> Iterator[tuple[str, bytes]]:
    depth = 100_000
    yield "nested-arrays-100k", b"[" * depth
    yield "nested-objects-20k", b"{\"a\":" * 20_000
    yield "nested-in-entry", (GOOD[:-4] + "," + '{"x":' * 5000 + "1" + "}" * 5000 + "]}}").encode()
    yield "nested-closed-arrays", ("[" * 20_000 + "]" * 20_000).encode()
    yield "nested-metadata-300", har(entry(_ghost={"metadata": json.loads("[" * 300 + "]" * 300)})).encode()
    yield "nan", GOOD.replace('"time": 1', '"time": NaN').encode()
    yield "infinity", GOOD.replace('"time": 1', '"time": Infinity').encode()
    yield "minus-infinity", GOOD.replace('"status": 200', '"status": -Infinity').encode()
    yield "bom-utf8", b"\xef\xbb\xbf" + GOOD.encode()
    yield "bom-utf16", GOOD.encode("utf-16")
    yield "utf32", GOOD.encode("utf-32")
    yield "huge-int-400-digits", GOOD.replace('"time": 1', '"time": ' + "9" * 400).encode()
    yield "huge-int-status", GOOD.replace('"status": 200', '"status": ' + "9" * 5000).encode()
    yield "huge-exponent", GOOD.replace('"time": 1', '"time": 1e999999').encode()
    yield "negative-zero-sizes", GOOD.replace('"bodySize": 2', '"bodySize": -0.0').encode()
    yield "negative-sizes", GOOD.replace('"size": 2', '"size": -99999999999').encode()
    yield "duplicate-keys", GOOD.replace('"url": "http://example.com/a"',
                                         '"url": "http://example.com/a", "url": 5, "url": null').encode()
    yield "duplicate-log", ('{"log": {"entries": []}, "log": ' + GOOD[8:]).encode()
    yield "truncated-half", GOOD.encode()[: len(GOOD) // 2]
    yield "truncated-in-string", GOOD.encode()[: GOOD.index("example.com") + 4]
    yield "truncated-after-entries", GOOD.encode()[:-2]
    yield "empty", b""
    yield "whitespace", b" \n\t " * 1000
    yield "lone-surrogate-url", GOOD.replace("http://example.com/a", "http://example.com/\\ud800").encode()
    yield "lone-surrogate-header", har(entry(request={**entry()["request"],  # type: ignore[dict-item]
                                                      "headers": [{"name": "x\\udfff", "value": "\\ud83d"}]}),
                                       entry()).replace("\\\\u", "\\u").encode()
    yield "lone-surrogate-body", GOOD.replace('"text": "ok"', '"text": "\\udc00ok"').encode()
    yield "invalid-utf8", GOOD.encode().replace(b"example.com", b"ex\xff\xfeample.com")
    yield "nul-bytes", GOOD.replace("example.com", "exa\\u0000mple.com").encode()
    yield "raw-nul", GOOD.encode().replace(b"example", b"exa\x00mple")
    yield "control-chars-in-header", har(entry(request={**entry()["request"],  # type: ignore[dict-item]
                                                        "headers": [{"name": "X\r\nInjected", "value": "a\r\nb"}]}),
                                         entry()).encode()
    yield "base64-garbage", GOOD.replace('"text": "ok"', '"text": "!!!not base64@@@", "encoding": "base64"').encode()
    yield "base64-huge-claim", GOOD.replace('"size": 2', '"size": 99999999999999999999').encode()
    yield "unknown-encoding", GOOD.replace('"text": "ok"', '"text": "ok", "encoding": "rot13"').encode()
    yield "bad-urls", har(*(entry(request={**entry()["request"], "url": url})  # type: ignore[dict-item]
                            for url in ("", "not a url", "http://", "http://[::1", "http://a:99999/", "javascript:x",
                                        "file:///etc/passwd", "http://" + "a" * 70_000 + ".com/", "//x", "http://a b/",
                                        "http://[fe80::1%25eth0]/", "http://xn--/"))).encode()
    yield "bad-methods", har(*(entry(request={**entry()["request"], "method": m})  # type: ignore[dict-item]
                               for m in ("", "G E T", "GET\r\n", "x" * 10_000, "\u00e9"))).encode()
    yield "bad-dates", har(*(entry(startedDateTime=d) for d in (
        "", "yesterday", "2026-13-45T99:99:99Z", "9999999-01-01T00:00:00Z", "0000-00-00", "2026-01-01T00:00:00+99:99",
        "-1", "1e308"))).encode()
    yield "bad-timings", har(*(entry(timings=t) for t in (
        {"wait": -5}, {"wait": "1"}, {"wait": 1e308}, {"send": None, "wait": None}, {"blocked": -1e308}))).encode()
    yield "many-headers", har(entry(request={**entry()["request"],  # type: ignore[dict-item]
                                             "headers": [{"name": f"h{i}", "value": "v"} for i in range(5000)]})).encode()
    yield "long-header-value", har(entry(request={**entry()["request"],  # type: ignore[dict-item]
                                                  "headers": [{"name": "h", "value": "v" * 50_000}]})).encode()
    yield "many-tiny-entries", har(*([entry()] * 100)).encode()
    yield "entries-of-nulls", har(*([None] * 1000)).encode()
    yield "trailing-garbage", (GOOD + "garbage{[").encode()
    yield "two-documents", (GOOD + GOOD).encode()
    yield "comments", ("// comment\n" + GOOD).encode()
    yield "single-quotes", GOOD.replace('"', "'").encode()
    yield "not-json", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    yield "ghost-json-instead", b'[{"id": "01A", "url": "http://example.com/"}]'
    yield "big-escape-run", GOOD.replace('"text": "ok"', '"text": "' + "\\u0041" * 10_000 + '"').encode()
    for name, text in wrong_types():
        yield name, text.encode()


def main() -> None:
    for old in HERE.glob("*.har"):
        old.unlink()
    for name, data in corpus():
        (HERE / f"{name}.har").write_bytes(data)


if __name__ == "__main__":
    main()
