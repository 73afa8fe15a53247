"""Browser pages of captured flows, for HAR's ``pages`` and each entry's ``pageref``.

Pure: flows in (in the order they started), pages out. Shared by the session and journey HAR
exports, computed when a HAR is written, so capture pays nothing for it.

- A top-level navigation starts a page: a request with ``Sec-Fetch-Dest: document`` (what
  every current browser sends when it loads a page in a tab; an iframe says ``iframe``).
  A navigation to the ``Location`` the page's last navigation was redirected to continues
  that page (a redirect chain is one page, as browsers record it).
- Any other flow belongs to a page of the same client (the device: its address without the
  port): the latest whose URL is the flow's ``Referer``, else, when the referrer is only an
  origin (the default policy across sites), the latest page of that origin, else the
  client's latest page. A flow before any page of its client has no page.
- A page's title is what the journey knows for its URL (the extension records the
  document's title with each interaction), else its URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from ghost_addons.model import Flow, format_time, header_value

PAGE_TIMINGS = {"onContentLoad": -1, "onLoad": -1}  # the proxy sees no page events


def is_navigation(flow: Flow) -> bool:
    return header_value(flow.request.headers, "sec-fetch-dest").strip().lower() == "document"


def _client(flow: Flow) -> str:
    address = flow.client_addr
    if address.startswith("["):
        return address[1:].partition("]")[0]
    return address.rpartition(":")[0] if address.count(":") == 1 else address


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _without_fragment(url: str) -> str:
    return url.partition("#")[0]


@dataclass(slots=True)
class _Page:
    id: str
    url: str
    started: str
    redirect_to: str = ""  # where its last navigation was sent on, "" when it was not


@dataclass(slots=True)
class _ClientPages:
    """One client's pages, indexed so that a flow finds its page in constant time."""

    latest: _Page
    by_url: dict[str, _Page] = field(default_factory=dict)
    by_origin: dict[str, _Page] = field(default_factory=dict)

    def add(self, page: _Page) -> None:
        self.latest = page
        self.by_url[page.url] = page
        self.by_origin[_origin(page.url)] = page


@dataclass(slots=True)
class PageTracker:
    """Assigns flows to pages as they stream past (`page_of`), in start order; `pages()`
    lists them in HAR's form once every flow has been seen."""

    titles: Mapping[str, str] = field(default_factory=dict)
    _pages: list[_Page] = field(default_factory=list)
    _clients: dict[str, _ClientPages] = field(default_factory=dict)

    def page_of(self, flow: Flow) -> str | None:
        """The id of the page `flow` belongs to (starting one for a navigation), or None."""
        client = _client(flow)
        known = self._clients.get(client)
        if is_navigation(flow):
            url = _without_fragment(flow.request.url)
            if known is not None and known.latest.redirect_to == url:
                page = known.latest
                page.url = url
            else:
                page = _Page(f"page_{flow.id}", url, format_time(flow.started_at))
                self._pages.append(page)
            if known is None:
                known = self._clients[client] = _ClientPages(page)
            known.add(page)
            location = header_value(flow.response.headers, "location") if flow.response else ""
            redirected = flow.response is not None and 300 <= flow.response.status_code < 400 and location
            page.redirect_to = _without_fragment(urljoin(url, location)) if redirected else ""
            return page.id
        if known is None:
            return None
        referer = _without_fragment(header_value(flow.request.headers, "referer"))
        if referer:
            page = known.by_url.get(referer)
            if page is None and urlsplit(referer).path in ("", "/"):  # an origin-only referrer
                page = known.by_origin.get(_origin(referer))
            if page is not None:
                return page.id
        return known.latest.id

    def pages(self) -> list[dict[str, Any]]:
        return [{"startedDateTime": page.started, "id": page.id,
                 "title": self.titles.get(page.url) or page.url, "pageTimings": dict(PAGE_TIMINGS)}
                for page in self._pages]


def pages_of(flows: Iterable[Flow], titles: Mapping[str, str] | None = None
             ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """(HAR pages, {flow id: page id}) for flows in the order they started."""
    tracker = PageTracker({_without_fragment(url): title for url, title in (titles or {}).items()})
    refs: dict[str, str] = {}
    for flow in flows:
        page = tracker.page_of(flow)
        if page is not None:
            refs[flow.id] = page
    return tracker.pages(), refs
