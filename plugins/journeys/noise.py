"""The journey noise filter: which flows of a recording are not part of the user's story.

Every category of the spec's table is one small check below; `journey_noise_reason`
answers with the first category that matches (or "" when the flow belongs in the journey),
so tests and logs can say *why* a flow was left out. The filter applies to correlated
flows too: a favicon fetched right after a click is still noise.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ghost_addons.model import Flow

# Analytics, telemetry, advertising and session-replay SDK endpoints. A host matches a
# domain when it is the domain or a subdomain of it.
NOISE_DOMAINS: frozenset[str] = frozenset(
    {
        # Google
        "google-analytics.com",
        "analytics.google.com",
        "googletagmanager.com",
        "googletagservices.com",
        "googleadservices.com",
        "googlesyndication.com",
        "doubleclick.net",
        "stats.g.doubleclick.net",
        # Product analytics
        "segment.io",
        "segment.com",
        "mixpanel.com",
        "mxpnl.com",
        "amplitude.com",
        "heap.io",
        "heapanalytics.com",
        "posthog.com",
        "i.posthog.com",
        "plausible.io",
        "kissmetrics.com",
        "pendo.io",
        "intercom.io",
        "intercomcdn.com",
        "optimizely.com",
        "quantserve.com",
        "scorecardresearch.com",
        "branch.io",
        "appsflyer.com",
        "mc.yandex.ru",
        "hs-analytics.net",
        "track.hubspot.com",
        "static.cloudflareinsights.com",
        "cloudflareinsights.com",
        "vitals.vercel-insights.com",
        # Error tracking and performance monitoring
        "sentry.io",
        "sentry-cdn.com",
        "ingest.sentry.io",
        "datadoghq.com",
        "datadoghq.eu",
        "browser-intake-datadoghq.com",
        "bugsnag.com",
        "rollbar.com",
        "newrelic.com",
        "nr-data.net",
        "dynatrace.com",
        "raygun.io",
        "trackjs.com",
        # Session replay and heatmaps
        "hotjar.com",
        "hotjar.io",
        "fullstory.com",
        "logrocket.com",
        "lr-ingest.io",
        "lr-in.com",
        "clarity.ms",
        "mouseflow.com",
        "smartlook.com",
        "crazyegg.com",
        "inspectlet.com",
        # Advertising pixels
        "connect.facebook.net",
        "facebook.com/tr",
        "bat.bing.com",
        "px.ads.linkedin.com",
        "snap.licdn.com",
        "analytics.twitter.com",
        "static.ads-twitter.com",
        "analytics.tiktok.com",
        "tr.snapchat.com",
        "ct.pinterest.com",
    }
)

# Requests the browser makes for itself, never for the page: Chromium's component updater,
# Safe Browsing, variations and optimization hints. No user action causes them, yet they
# pass through the proxy during a recording; as steps they would be replayed and exported.
BROWSER_SERVICE_HOSTS: frozenset[str] = frozenset(
    {
        "update.googleapis.com",
        "clients1.google.com",
        "clients2.google.com",
        "clients4.google.com",
        "clientservices.googleapis.com",
        "safebrowsing.googleapis.com",
        "safebrowsing.google.com",
        "sb-ssl.google.com",
        "optimizationguide-pa.googleapis.com",
        "content-autofill.googleapis.com",
        "edgedl.me.gvt1.com",
        "redirector.gvt1.com",
        "dl.google.com",
        "android.clients.google.com",
        "firefox.settings.services.mozilla.com",
        "shavar.services.mozilla.com",
        "aus5.mozilla.org",
    }
)

BROWSER_EXACT_PATHS: frozenset[str] = frozenset(
    {"/sw.js", "/manifest.json", "/robots.txt", "/browserconfig.xml"}
)
BROWSER_PATH_PREFIXES: tuple[str, ...] = (
    "/favicon",
    "/service-worker",
    "/sitemap",
    "/apple-touch-icon",
)
WELL_KNOWN = "/.well-known/"

STATIC_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".js", ".mjs", ".cjs", ".css", ".woff", ".woff2", ".ttf", ".eot", ".otf",
        ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp", ".avif", ".map",
        ".mp3", ".mp4", ".webm", ".ogg",
    }
)

NOISE_CONTENT_TYPE_PREFIXES: tuple[str, ...] = (
    "image/",
    "font/",
    "audio/",
    "video/",
    "text/css",
    "application/font",
)

# "/hot-update" as the spec says, plus webpack's own file names (main.1a2b.hot-update.json).
HMR_MARKERS: tuple[str, ...] = ("/__vite", "/__webpack", "/hot-update", ".hot-update.")


def is_noise_domain(host: str, path: str = "/") -> bool:
    """True for known analytics/telemetry hosts (the domain itself or any subdomain).

    A few entries carry a path (``facebook.com/tr``, the Meta pixel) because the domain
    alone also serves real applications.
    """
    host = host.lower().rstrip(".")
    labels = host.split(".")
    for i in range(len(labels) - 1):
        candidate = ".".join(labels[i:])
        if candidate in NOISE_DOMAINS:
            return True
        if f"{candidate}{path.rstrip('/')}" in NOISE_DOMAINS:
            return True
    return False


def is_browser_infrastructure_path(path: str) -> bool:
    lower = path.lower()
    return (
        lower in BROWSER_EXACT_PATHS
        or lower.startswith(BROWSER_PATH_PREFIXES)
        or WELL_KNOWN in lower
    )


def has_static_extension(path: str) -> bool:
    last = path.rsplit("/", 1)[-1].lower()
    _, dot, extension = last.rpartition(".")
    return bool(dot) and f".{extension}" in STATIC_EXTENSIONS


def is_noise_content_type(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return bool(mime) and mime.startswith(NOISE_CONTENT_TYPE_PREFIXES)


def is_dev_server_path(path: str) -> bool:
    return path.startswith("/@") or any(marker in path for marker in HMR_MARKERS)


def noise_reason(method: str, url: str, response_content_type: str = "") -> str:
    """The spec's noise category that matches a request, or "" when it is not noise."""
    if method.upper() == "OPTIONS":
        return "cors-preflight"
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = parts.path or "/"
    if host and is_noise_domain(host, path):
        return "analytics-domain"
    if host.lower().rstrip(".") in BROWSER_SERVICE_HOSTS:
        return "browser-service"
    if is_browser_infrastructure_path(path):
        return "browser-infrastructure"
    if has_static_extension(path):
        return "static-asset"
    if is_noise_content_type(response_content_type):
        return "content-type"
    if is_dev_server_path(path):
        return "dev-server-hmr"
    return ""


def journey_noise_reason(flow: Flow) -> str:
    """`noise_reason` for a stored flow (its response content type included)."""
    content_type = flow.response.content_type if flow.response else ""
    return noise_reason(flow.request.method, flow.request.url, content_type)


def is_journey_noise(flow: Flow) -> bool:
    return bool(journey_noise_reason(flow))
