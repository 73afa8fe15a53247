"""Map remote: the URL a request is sent to instead of its own."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def build_remote_url(remote_url: str, request_path: str, *, preserve_path: bool, preserve_query: bool) -> str:
    """The new URL for a request whose target is `request_path` (path + query).

    - preserve_path: the request's path is appended to the remote URL's path
      (``http://staging:3000/v2`` + ``/users/1`` -> ``http://staging:3000/v2/users/1``);
      otherwise the remote URL's path is used as it is.
    - preserve_query: the request's query is kept (after the remote URL's own query, if any);
      otherwise only the remote URL's query is sent.
    """
    remote = urlsplit(remote_url)
    path, _, query = request_path.partition("?")
    if preserve_path:
        new_path = remote.path.rstrip("/") + (path if path.startswith("/") else "/" + path)
    else:
        new_path = remote.path or "/"
    queries = [q for q in (remote.query, query if preserve_query else "") if q]
    return urlunsplit((remote.scheme, remote.netloc, new_path, "&".join(queries), ""))
