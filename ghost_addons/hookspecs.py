"""Ghost's plugin contract: every hook a plugin may implement, documented in one place.

A plugin is a module (or object) with functions decorated by `hookimpl`, named after the
specs below. Built-in features in `plugins/` use exactly this contract. Any hook may
return an awaitable; Ghost awaits it.

The proxy pipeline runs these stages in this order, for every flow Ghost captures:

    request:   ghost_breakpoints -> ghost_map_rules -> ghost_addons -> (upstream)
    response:  ghost_map_rules -> ghost_addons -> ghost_breakpoints
    then:      ghost_capture -> ghost_should_store -> (store) -> ghost_flow_stored

So a breakpoint sees the raw request and its edits are what map rules, addons and the
store see; a response breakpoint sees the response after rules and addons changed it.
A stage that kills the flow or answers it (sets `flow.response` in the request phase)
stops the request stages that follow; storage still records the flow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

import pluggy

if TYPE_CHECKING:
    from aiohttp import web
    from mitmproxy import http

    from ghost_addons.api.routes import RouteTable
    from ghost_addons.core import Ghost
    from ghost_addons.extension import BrowserExtension
    from ghost_addons.model import Flow
    from ghost_addons.report_sections import ReportSection

hookspec = pluggy.HookspecMarker("ghost")
hookimpl = pluggy.HookimplMarker("ghost")

Phase = Literal["request", "response"]
Register = Callable[[str, Any], None]
RegisterMigrations = Callable[[str, list[str]], None]
RegisterSettings = Callable[..., None]
RegisterEvent = Callable[[str, str, str], None]


# --- lifecycle ---------------------------------------------------------------------


@hookspec
def ghost_migrations(register: RegisterMigrations) -> None:
    """Declare the plugin's database tables.

    Called once when the store opens. Call ``register(name, statements)`` with a unique
    name (usually the plugin's) and the ordered list of SQL migrations; each statement
    list entry is one migration, applied once, in order, in its own transaction.
    Append new migrations; never edit applied ones. Foreign keys to the core tables
    (``sessions``, ``flows``) are allowed.
    """


@hookspec
def ghost_startup(ghost: Ghost) -> Awaitable[None] | None:
    """Ghost is up: the store is open and the API is about to serve.

    Load persisted state here and start background work with ``ghost.spawn(...)`` (tasks
    are kept referenced and cancelled at shutdown).
    """


@hookspec
def ghost_shutdown(ghost: Ghost) -> Awaitable[None] | None:
    """Ghost is stopping; the store is still open. Release held flows, close sockets."""


@hookspec
def ghost_routes(ghost: Ghost, routes: RouteTable) -> None:
    """Add REST, WebSocket or SSE routes with ``routes.add(method, path, handler, ...)``.

    Every route under ``/api/v1`` is behind the bearer token and the Host/Origin checks,
    and appears in ``/api/v1/openapi.json`` with the summary given.
    """


@hookspec(firstresult=True)
def ghost_api_authorized(ghost: Ghost, request: web.Request) -> bool | None:
    """A request under ``/api/`` came without a bearer token: return True to let it in on a
    credential the plugin issued itself (the web UI's session cookie), else None.

    Called on the event loop for every such request, so answer at once (no I/O). A plugin
    that accepts a credential the browser sends by itself (a cookie) must also make sure the
    request came from its own page (a header a cross-site page cannot send, or an exact
    ``Origin``), or any site the user visits could use it. A wrong bearer token is refused
    before this hook is asked.
    """


@hookspec
def ghost_settings_changed(ghost: Ghost, changed: set[str]) -> Awaitable[None] | None:
    """Settings were updated (``PUT /api/v1/settings`` or import); apply them now.

    ``changed`` holds the dotted names that changed, e.g. ``{"proxy.noise_threshold"}``.
    Read the new values from ``ghost.settings``.
    """


@hookspec
def ghost_event(ghost: Ghost, type: str, data: Any) -> None:
    """An event was published to the events WebSocket (``flow.created``, ``rule.created``...).

    Must be quick: it runs on the event loop for every event.
    """


@hookspec
def ghost_monitor(ghost: Ghost, report: dict[str, Any]) -> None:
    """Add the plugin's own figures to ``GET /api/v1/monitor`` (e.g. noise counts)."""


@hookspec
def ghost_extension_message(ghost: Ghost, message: dict[str, Any]) -> Awaitable[bool | None] | bool | None:
    """A browser extension sent ``message`` (``{"type": ..., "data": ...}``) of a type the
    bridge does not handle itself (``hello``, ``ping`` and ``action.result`` are its own),
    e.g. ``interaction``.

    Return True (or an awaitable of True) when the plugin handled this type; None for
    types it does not know, so others are asked. Raise ValueError (or a
    ``ghost_addons.errors.GhostError``) to refuse the message: the bridge sends the text
    back to the extension as ``{"type": "error"}``. A type no plugin handles is answered
    with "unknown message type".
    """


@hookspec
def ghost_extension_connected(ghost: Ghost, info: dict[str, Any]) -> Awaitable[None] | None:
    """A browser extension connected and said hello; ``info`` holds what it told
    (``connection_id``, ``connected_at``, ``version``, ``extension_id``, ``browser``...).

    Tell it what it must know now, e.g. the recordings already running.
    """


@hookspec(firstresult=True)
def ghost_browser_extension(ghost: Ghost) -> BrowserExtension | None:
    """Return the browser extension the plugin holds if one is connected, else None.

    Features send to the browser through the first answer (``ghost_addons.extension.
    browser_extension(ghost)``) without knowing which plugin holds the connection; a
    plugin bridging another browser implements this hook too.
    """


# --- the proxy pipeline ----------------------------------------------------------------


@hookspec
def ghost_breakpoints(ghost: Ghost, flow: http.HTTPFlow, phase: Phase) -> Awaitable[None] | None:
    """Stage 1 of a request, last stage of a response: hold and edit live flows."""


@hookspec
def ghost_map_rules(ghost: Ghost, flow: http.HTTPFlow, phase: Phase) -> Awaitable[None] | None:
    """Stage 2 of a request, 1 of a response: map local, map remote, rewrite, injection."""


@hookspec
def ghost_addons(ghost: Ghost, flow: http.HTTPFlow, phase: Phase) -> Awaitable[None] | None:
    """Stage 3 of a request, 2 of a response: user scripts (JavaScript addons)."""


@hookspec
def ghost_uncaptured_request(ghost: Ghost, flow: http.HTTPFlow) -> None:
    """A request Ghost does not capture (``proxy.host_include``/``host_exclude`` leave its
    host out) is about to go to its target unrecorded, with no stage run: set
    ``flow.response`` to answer it anyway (a page the proxy itself serves whatever the
    capture filter says, as the devices plugin's setup page). Runs on the proxy's path for
    every uncaptured request: answer at once, no I/O, no awaitable.
    """


@hookspec
def ghost_capture(ghost: Ghost, flow: http.HTTPFlow, record: Flow) -> None:
    """The flow is complete (answered or failed); ``record`` is what will be stored.

    Add tags or metadata to ``record`` here. Must not block: it runs on the proxy's path.
    """


@hookspec
def ghost_should_store(ghost: Ghost, record: Flow) -> bool | None:
    """Return False to keep the flow out of the store (noise sampling); None to abstain."""


@hookspec
def ghost_flow_stored(ghost: Ghost, flow: Flow) -> Awaitable[None] | None:
    """``flow`` is committed to the store and its ``flow.created`` event went out.

    Passive analysis (security checks, journey steps) belongs here. Called on the flow
    writer, once per committed flow, in commit order:

    - A synchronous implementation runs inline and holds the writer while it runs, so it
      must be quick (no I/O, no waiting); one that raises is logged and skipped.
    - Slow work goes in the awaitable an implementation returns: Ghost does not await it
      before the next flow but hands it to this plugin's own lane (a bounded queue with one
      task), which runs the plugin's awaitables one at a time, in commit order. A slow
      plugin therefore delays only its own work, never later commits, events, other
      plugins or the proxy. When the lane is full (5,000 waiting) new work for proxied
      flows is dropped, logged and counted (``flow_stored`` in ``GET /api/v1/monitor``);
      for flows added through ``store.add_flows`` (imports, replays) the adder waits for
      room instead. A lane's failures are logged and counted, and the lane goes on.
    - So the awaitable may run after later flows were committed and announced, and
      ``store.add_flows`` may return before it ran (``ghost.flow_writer.lanes.idle()``
      waits for every lane). At shutdown the lanes get 10 s to finish, then are cancelled.
    """


# --- registries --------------------------------------------------------------------------
#
# Ghost calls each plugin's implementation with a `register` bound to that plugin: the
# registry records who registered what (`GET /api/v1/plugins`) and refuses a name that is
# already taken, naming both plugins. Ghost refuses to start rather than let one plugin
# silently replace another's entry.


@hookspec
def ghost_exporters(register: Register) -> None:
    """Register session exporters: ``register(name, exporter)`` with an ``Exporter`` (see
    plugins/exporters); ``name`` is the ``format`` of ``GET /api/v1/sessions/{id}/export``."""


@hookspec
def ghost_importers(register: Register) -> None:
    """Register session importers: ``register(name, importer)`` (see plugins/importers)."""


@hookspec
def ghost_code_generators(register: Register) -> None:
    """Register per-flow code generators: ``register(name, generate)`` where
    ``generate(flow: Flow) -> str``; ``name`` is the format of
    ``GET /api/v1/flows/{id}/export/{name}`` (see plugins/codegen)."""


@hookspec
def ghost_journey_exporters(register: Register) -> None:
    """Register journey export formats: ``register(name, exporter)``; ``name`` is the
    ``format`` of ``GET /api/v1/journeys/{id}/export`` (see plugins/journeys/README.md).

    ``exporter`` has ``generate(journey_export) -> str`` (a pure function of the journey and
    its ordered steps, each with its full flow and interaction), ``content_type``,
    ``extension`` (``".sh"``: the file is ``journey-{id8}.sh``) and optionally ``needs``
    (``"flows"``, the default, or ``"interactions"``: what the journey must have, else 422).
    Called when the journeys plugin starts; nothing is registered while it is disabled.
    """


@hookspec
def ghost_security_checks(register: Register) -> None:
    """Register passive security checks: ``register(name, check)``; ``name`` is the check's
    id (``check`` in findings, ``ruleId`` in SARIF). Called when the security plugin starts.

    ``check`` is any object with these attributes (the built-ins use
    ``plugins/security/checks.py``'s ``Check``; a dataclass or ``SimpleNamespace`` of your own
    does as well): ``title`` (str), ``severity`` (``high``/``medium``/``low``/``info``),
    ``confidence`` (``high``/``medium``/``low``), ``remediation`` (str), ``scope``
    (``"endpoint"``: one finding per method + host + path template; ``"site"``: one finding
    per host, counting the endpoints it was seen on) and ``run``, a pure function
    ``run(flow: Flow) -> Iterable[tuple[str, str]]`` giving ``(where, snippet)`` evidence
    for each problem in the stored flow (nothing when it is clean). ``run`` is called off
    the event loop, on flows whose host matches ``security.target_hosts``; it must be quick,
    bounded, and must not raise on odd input (a check that raises is logged and skipped).
    """


@hookspec
def ghost_report_sections(ghost: Ghost, session_id: str) -> Awaitable[list[ReportSection]] | list[ReportSection] | None:
    """Extra sections for a session's HTML report (``GET /api/v1/sessions/{id}/export/report``).

    Return (or return an awaitable of) a list of ``ghost_addons.report_sections.ReportSection``
    (a title, a summary line, column names and rows of text, autoescaped when rendered); the
    report shows them after its statistics, in plugin order. The security plugin adds its
    findings this way. Keep it bounded: the report waits for it before it starts.
    """


# --- declarations ----------------------------------------------------------------------------


@hookspec
def ghost_settings(register: RegisterSettings) -> None:
    """Declare the plugin's settings: ``register(section, *settings, import_requires=())``.

    Each ``Setting(key, default, help, ...)`` (from ``ghost_addons.settings_schema``) gives
    the type (that of the default), range or choices, and whether it is ``secret`` (masked
    in ``GET /api/v1/settings``, cleared in exports, never imported). A plugin may add keys
    to any section, its own or a shared one (``proxy``); a key declared twice stops Ghost
    with an error naming both plugins. Declared settings appear in ``GET /api/v1/settings``
    and ``/settings/schema``, are validated on ``PUT`` and import, and read with
    ``ghost.settings.get("section.key")``; apply changes in ``ghost_settings_changed``.
    ``import_requires`` names keys of which at least one must be non-empty for an imported
    section to be taken (an ``llm`` section without a provider is skipped).
    """


@hookspec
def ghost_event_types(register: RegisterEvent) -> None:
    """Declare the events the plugin publishes: ``register(type, payload, summary)``.

    ``payload`` describes the ``data`` of the event (e.g. ``"{id, name}"``). Publishing an
    event type nobody declared raises ``UnknownEvent``, so every event a client can receive
    is listed in ``GET /api/v1/events/types`` and in the README.
    """
