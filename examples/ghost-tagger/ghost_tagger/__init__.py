"""ghost-tagger, an example third-party Ghost plugin: tags flows by the rules in `tagger.rules`.

Each rule tags the flows it matches (`status:5xx -> server-error`) or blocks requests
(`host:ads.example.com -> block`). It shows the whole plugin contract in a small space:
a `make_plugin()` factory, settings with a check and hot reload, a migration and a table
written off the event loop, a pipeline stage, a route, and a declared event (`tagger.tagged`).
The guide that walks through it is docs/plugins.md in Ghost's repository.
"""

from __future__ import annotations

from .plugin import Tagger, make_plugin

__version__ = "0.2.0"

__all__ = ["Tagger", "make_plugin"]
