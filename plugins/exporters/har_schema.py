"""An imported HAR entry made valid HAR 1.2 again without losing what it held.

Files other tools write are often not valid HAR (k6's have no ``response``, Charles writes
``"redirectURL": null``, Chrome ``"serverIPAddress": "[::1]"``, Firefox cache entries
without ``eTag``). The exporter writes the entry as imported, so it must repair it: a
required field that is missing is taken from the entry Ghost builds from the flow itself
(valid by construction); a field of the wrong type keeps its value under ``_<name>`` (HAR's
custom-field prefix) and gets Ghost's. Nothing present and valid is changed.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ghost_addons.model import parse_time

# per object kind: field -> (JSON type, required, kind of the nested object or None)
_STRING, _NUMBER, _INTEGER, _ARRAY, _OBJECT, _BOOL = "string", "number", "integer", "array", "object", "bool"
SCHEMA: dict[str, dict[str, tuple[str, bool, str | None]]] = {
    "entry": {"startedDateTime": (_STRING, True, None), "time": (_NUMBER, True, None),
              "request": (_OBJECT, True, "request"), "response": (_OBJECT, True, "response"),
              "cache": (_OBJECT, True, "cache"), "timings": (_OBJECT, True, "timings"),
              "pageref": (_STRING, False, None), "serverIPAddress": (_STRING, False, None),
              "connection": (_STRING, False, None), "comment": (_STRING, False, None)},
    "request": {"method": (_STRING, True, None), "url": (_STRING, True, None),
                "httpVersion": (_STRING, True, None), "cookies": (_ARRAY, True, "cookie"),
                "headers": (_ARRAY, True, "pair"), "queryString": (_ARRAY, True, "pair"),
                "postData": (_OBJECT, False, "postData"), "headersSize": (_INTEGER, True, None),
                "bodySize": (_INTEGER, True, None), "comment": (_STRING, False, None)},
    "response": {"status": (_INTEGER, True, None), "statusText": (_STRING, True, None),
                 "httpVersion": (_STRING, True, None), "cookies": (_ARRAY, True, "cookie"),
                 "headers": (_ARRAY, True, "pair"), "content": (_OBJECT, True, "content"),
                 "redirectURL": (_STRING, True, None), "headersSize": (_INTEGER, True, None),
                 "bodySize": (_INTEGER, True, None), "comment": (_STRING, False, None)},
    "content": {"size": (_INTEGER, True, None), "compression": (_INTEGER, False, None),
                "mimeType": (_STRING, True, None), "text": (_STRING, False, None),
                "encoding": (_STRING, False, None), "comment": (_STRING, False, None)},
    "postData": {"mimeType": (_STRING, True, None), "text": (_STRING, False, None),
                 "params": (_ARRAY, False, "param"), "comment": (_STRING, False, None)},
    "param": {"name": (_STRING, True, None), "value": (_STRING, False, None),
              "fileName": (_STRING, False, None), "contentType": (_STRING, False, None),
              "comment": (_STRING, False, None)},
    "pair": {"name": (_STRING, True, None), "value": (_STRING, True, None),
             "comment": (_STRING, False, None)},
    "cookie": {"name": (_STRING, True, None), "value": (_STRING, True, None),
               "path": (_STRING, False, None), "domain": (_STRING, False, None),
               "httpOnly": (_BOOL, False, None), "secure": (_BOOL, False, None),
               "comment": (_STRING, False, None)},
    "cache": {"beforeRequest": (_OBJECT, False, "cacheEntry"),
              "afterRequest": (_OBJECT, False, "cacheEntry"), "comment": (_STRING, False, None)},
    "cacheEntry": {"expires": (_STRING, False, None), "lastAccess": (_STRING, True, None),
                   "eTag": (_STRING, True, None), "hitCount": (_INTEGER, True, None),
                   "comment": (_STRING, False, None)},
    "timings": {"blocked": (_NUMBER, False, None), "dns": (_NUMBER, False, None),
                "connect": (_NUMBER, False, None), "send": (_NUMBER, True, None),
                "wait": (_NUMBER, True, None), "receive": (_NUMBER, True, None),
                "ssl": (_NUMBER, False, None), "comment": (_STRING, False, None)},
    "page": {"startedDateTime": (_STRING, True, None), "id": (_STRING, True, None),
             "title": (_STRING, True, None), "pageTimings": (_OBJECT, True, "pageTimings"),
             "comment": (_STRING, False, None)},
    "pageTimings": {"onContentLoad": (_NUMBER, False, None), "onLoad": (_NUMBER, False, None),
                    "comment": (_STRING, False, None)},
}
_EMPTY = {_STRING: "", _NUMBER: -1, _INTEGER: -1, _ARRAY: [], _OBJECT: {}, _BOOL: False}
# har-schema's patterns (entry and page require the zone, cache entries do not)
_DATE_TIME = re.compile(r"^(\d{4})(-)?(\d\d)(-)?(\d\d)(T)?(\d\d)(:)?(\d\d)(:)?(\d\d)(\.\d+)?"
                        r"(Z|([+-])(\d\d)(:)?(\d\d))")
_CACHE_TIME = re.compile(r"^(\d{4})(-)?(\d\d)(-)?(\d\d)(T)?(\d\d)(:)?(\d\d)(:)?(\d\d)")
_NULLABLE = {("cache", "beforeRequest"), ("cache", "afterRequest"), ("cookie", "expires")}


def _has_type(value: Any, kind: str) -> bool:
    if kind == _STRING:
        return isinstance(value, str)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _INTEGER:
        return isinstance(value, int) and not isinstance(value, bool) or (
            isinstance(value, float) and value.is_integer())
    if kind == _NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool) and value >= -1
    if kind == _ARRAY:
        return isinstance(value, list)
    return isinstance(value, dict)


def _well_formed(kind: str, name: str, value: Any) -> bool:
    if name == "startedDateTime":
        try:
            parse_time(value)
        except ValueError:
            return False
        return bool(_DATE_TIME.match(value))
    if kind == "cacheEntry" and name in ("expires", "lastAccess"):
        return bool(_CACHE_TIME.match(value))
    if kind == "entry" and name == "serverIPAddress":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return False
    if kind == "entry" and name == "time":
        return value >= 0
    return True


def repair(value: dict[str, Any], kind: str, fallback: Any = None) -> dict[str, Any]:
    """``value`` made valid as a ``kind`` (see the module docstring); ``fallback`` is a valid
    object of that kind to take missing fields from."""
    fields = SCHEMA[kind]
    out = dict(value)
    fallback = fallback if isinstance(fallback, dict) else {}
    for name, (jtype, required, nested) in fields.items():
        present = name in out
        item = out.get(name)
        if present and item is None and (kind, name) in _NULLABLE:
            continue
        good = present and _has_type(item, jtype) and _well_formed(kind, name, item)
        if present and not good:
            out.setdefault(f"_{name}", item)
            del out[name]
        if name not in out:
            if not required:  # an optional field stays absent: nothing is added
                continue
            if name in fallback and _has_type(fallback[name], jtype):
                out[name] = fallback[name]
            else:
                out[name] = _EMPTY[jtype] if jtype not in (_ARRAY, _OBJECT) else type(_EMPTY[jtype])()
        if nested == "cache":  # a cache entry missing lastAccess: the request's start
            seen = {"lastAccess": out.get("startedDateTime"), "eTag": "", "hitCount": 0}
            out[name] = repair(out[name], nested, {"beforeRequest": seen, "afterRequest": seen})
        elif nested and jtype == _OBJECT:
            out[name] = repair(out[name], nested, fallback.get(name))
        elif nested and jtype == _ARRAY:
            out[name] = [repair(i if isinstance(i, dict) else {"_item": i}, nested)
                         for i in out[name]]
    return out
