"""HAR of flows Ghost captured itself, through a real mitmdump: `time` is the sum of the
measured phases (`ssl` inside `connect`, HAR 1.2), `dns` is measured for a name, and
navigations make `pages` that each entry names in `pageref`; har-validator passes."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from tests.support.captured_session import ensure_node_tools, export, har_validator
from tests.support.ghostproc import GhostProcess
from tests.support.target import Target

PIXEL = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"


def measured_sum(timings: dict[str, float]) -> float:
    return sum(value for name, value in timings.items() if name != "ssl" and value >= 0)


def test_captured_har_has_pages_dns_and_time_as_the_sum(ghost: GhostProcess, target: Target, tmp_path: Path) -> None:
    ensure_node_tools()
    https_page = target.https_url.replace("127.0.0.1", "localhost") + "/page"  # a name: looked up
    second_page = f"{target.http_url}/echo?second"
    navigate = {"User-Agent": PIXEL, "Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}
    with ghost.client() as client:
        assert client.get(https_page, headers=navigate).status_code == 200
        assert client.get(https_page.replace("/page", "/json"),
                          headers={"User-Agent": PIXEL, "Sec-Fetch-Dest": "empty", "Referer": https_page}).status_code == 200
        assert client.get(second_page, headers=navigate).status_code == 200
        assert client.get(f"{target.http_url}/image.png",
                          headers={"User-Agent": PIXEL, "Sec-Fetch-Dest": "image", "Referer": second_page}).status_code == 200
    flows = ghost.wait_flows(4)
    time.sleep(0.3)
    path, _ = export(ghost, flows[0]["session_id"], "har", tmp_path)
    checked = har_validator(path)
    assert checked.returncode == 0, checked.stderr
    log = orjson.loads(path.read_bytes())["log"]
    entries = sorted(log["entries"], key=lambda e: e["startedDateTime"])
    assert [e["request"]["url"].rsplit("/", 1)[1] for e in entries] == ["page", "json", "echo?second", "image.png"]
    first, second = log["pages"]
    assert (first["title"], second["title"]) == (https_page, second_page)
    assert first["pageTimings"] == {"onContentLoad": -1, "onLoad": -1}
    assert [e["pageref"] for e in entries] == [first["id"], first["id"], second["id"], second["id"]]
    for item in entries:  # what waterfall viewers draw: the phases add up to the time
        assert abs(item["time"] - measured_sum(item["timings"])) < 0.002, item["timings"]
    tls = entries[0]["timings"]  # the first flow on a new TLS connection to a name
    assert tls["dns"] >= 0 and tls["ssl"] > 0 and tls["connect"] >= tls["ssl"], tls
    assert entries[1]["timings"]["dns"] == entries[1]["timings"]["connect"] == -1  # the same connection again
