"""Browser pages of captured flows (HAR `pages` and `pageref`)."""

from __future__ import annotations

from ghost_addons.model import Flow
from ghost_addons.pages import pages_of
from tests.ghost_addons.factories import make_flow


def flow(flow_id: str, url: str, dest: str = "", referer: str = "", client: str = "127.0.0.1:50000",
         status: int = 200, location: str = "") -> Flow:
    made = make_flow(flow_id, url=url, status=status)
    if dest:
        made.request.headers.append(("Sec-Fetch-Dest", dest))
    if referer:
        made.request.headers.append(("Referer", referer))
    if location and made.response is not None:
        made.response.headers.append(("Location", location))
    made.client_addr = client
    return made


def test_navigations_start_pages_and_subresources_follow_their_referer() -> None:
    flows = [
        flow("01A", "https://shop.example/api/early"),  # before any page: none
        flow("01B", "https://shop.example/home", "document"),
        flow("01C", "https://shop.example/app.js", "script", "https://shop.example/home"),
        flow("01D", "https://shop.example/cart", "document", "https://shop.example/home"),
        flow("01E", "https://shop.example/api/cart", "empty", "https://shop.example/cart"),
        # a late request of the first page, after the second started: its referer says which
        flow("01F", "https://shop.example/api/ping", "empty", "https://shop.example/home"),
        # the origin-only referrer a cross-site request carries: the latest page of that origin
        flow("01G", "https://cdn.example/font.woff2", "font", "https://shop.example/"),
        flow("01H", "https://api.example/x", "empty"),  # no referer: the client's latest page
        flow("01I", "https://shop.example/frame", "iframe", "https://shop.example/cart"),  # not a page
    ]
    pages, refs = pages_of(flows, {"https://shop.example/cart": "Your cart"})
    assert [(p["id"], p["title"]) for p in pages] == [("page_01B", "https://shop.example/home"),
                                                      ("page_01D", "Your cart")]
    assert pages[0]["startedDateTime"] == "2026-01-02T03:04:05.123456Z"
    assert pages[0]["pageTimings"] == {"onContentLoad": -1, "onLoad": -1}
    assert refs == {"01B": "page_01B", "01C": "page_01B", "01D": "page_01D", "01E": "page_01D",
                    "01F": "page_01B", "01G": "page_01D", "01H": "page_01D", "01I": "page_01D"}


def test_a_redirect_chain_is_one_page() -> None:
    flows = [
        flow("01A", "http://shop.example/login", "document", status=302, location="/home#top"),
        flow("01B", "http://shop.example/home", "document"),
        flow("01C", "http://shop.example/home", "document"),  # a reload: a page of its own
    ]
    pages, refs = pages_of(flows, {"http://shop.example/home": "Home"})
    assert [(p["id"], p["title"]) for p in pages] == [("page_01A", "Home"), ("page_01C", "Home")]
    assert refs == {"01A": "page_01A", "01B": "page_01A", "01C": "page_01C"}


def test_each_client_has_its_own_pages() -> None:
    flows = [
        flow("01A", "https://a.example/", "document", client="192.168.1.20:5000"),
        flow("01B", "https://b.example/", "document", client="[fd00::7]:5000"),
        flow("01C", "https://x.example/api", client="192.168.1.20:5001"),  # another connection, same device
        flow("01D", "https://x.example/api", client="[fd00::7]:5002"),
        flow("01E", "https://x.example/api", client="10.0.0.9:5000"),  # a client with no page
    ]
    _, refs = pages_of(flows)
    assert refs == {"01A": "page_01A", "01B": "page_01B", "01C": "page_01A", "01D": "page_01B"}


def test_no_navigation_no_pages() -> None:
    assert pages_of([flow("01A", "https://a.example/api"), flow("01B", "https://a.example/x", "image")]) == ([], {})


def test_finding_a_page_does_not_grow_with_the_pages() -> None:
    # a session export streams up to 100,000 flows through this on the event loop
    import time

    flows = []
    for n in range(4000):
        flows.append(flow(f"01N{n:05d}", f"https://a.example/p{n}", "document"))
        flows += [flow(f"01S{n:05d}{k}", f"https://b.example/x{k}", "empty", "https://c.example/q") for k in range(4)]
    started = time.process_time()
    pages, refs = pages_of(flows)
    assert len(pages) == 4000 and len(refs) == len(flows)
    assert time.process_time() - started < 1.5  # 20,000 flows in ~0.15 s; scanning every page per flow would compare ~10^8 URLs
