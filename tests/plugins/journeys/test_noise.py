import pytest

from plugins.journeys.noise import is_journey_noise, journey_noise_reason, noise_reason

from .helpers import make_flow


@pytest.mark.parametrize(
    ("method", "url", "content_type", "reason"),
    [
        # CORS preflight
        ("OPTIONS", "https://api.example.com/api/auth", "", "cors-preflight"),
        ("options", "https://api.example.com/api/items", "", "cors-preflight"),
        # Analytics / telemetry domains, the domain itself and subdomains
        ("POST", "https://www.google-analytics.com/g/collect?v=2", "", "analytics-domain"),
        ("GET", "https://www.googletagmanager.com/gtm.js?id=GTM-1", "", "analytics-domain"),
        ("POST", "https://api.segment.io/v1/t", "application/json", "analytics-domain"),
        ("POST", "https://o123.ingest.sentry.io/api/5/envelope/", "", "analytics-domain"),
        ("POST", "https://browser-intake-datadoghq.com/api/v2/rum", "", "analytics-domain"),
        ("GET", "https://static.hotjar.com/c/hotjar-1.js?sv=6", "", "analytics-domain"),
        ("POST", "https://api-js.mixpanel.com/track/", "", "analytics-domain"),
        ("POST", "https://bam.nr-data.net/events/1/abc", "", "analytics-domain"),
        ("GET", "https://www.facebook.com/tr?id=1&ev=PageView", "", "analytics-domain"),
        # The browser's own services (component updater, Safe Browsing, hints)
        ("GET", "https://update.googleapis.com/service/update2/json?cup2key=1", "application/json",
         "browser-service"),
        ("POST", "https://safebrowsing.googleapis.com/v4/threatListUpdates:fetch", "", "browser-service"),
        ("GET", "https://optimizationguide-pa.googleapis.com/downloads?name=1", "", "browser-service"),
        ("GET", "https://www.googleapis.com/drive/v3/files", "application/json", ""),
        # Browser infrastructure paths
        ("GET", "http://app.test/favicon.ico", "", "browser-infrastructure"),
        ("GET", "http://app.test/favicon-32x32.png", "", "browser-infrastructure"),
        ("GET", "http://app.test/.well-known/openid-configuration", "application/json", "browser-infrastructure"),
        ("GET", "http://app.test/sw.js", "", "browser-infrastructure"),
        ("GET", "http://app.test/service-worker-v2.js", "", "browser-infrastructure"),
        ("GET", "http://app.test/manifest.json", "application/json", "browser-infrastructure"),
        ("GET", "http://app.test/robots.txt", "text/plain", "browser-infrastructure"),
        ("GET", "http://app.test/sitemap.xml", "application/xml", "browser-infrastructure"),
        ("GET", "http://app.test/sitemap_index.xml", "application/xml", "browser-infrastructure"),
        ("GET", "http://app.test/apple-touch-icon-precomposed.png", "", "browser-infrastructure"),
        ("GET", "http://app.test/browserconfig.xml", "application/xml", "browser-infrastructure"),
        # Static asset extensions (query strings do not hide them)
        ("GET", "http://app.test/static/app.js?v=3", "text/html", "static-asset"),
        ("GET", "http://app.test/m.mjs", "", "static-asset"),
        ("GET", "http://app.test/m.cjs", "", "static-asset"),
        ("GET", "http://app.test/style.CSS", "", "static-asset"),
        ("GET", "http://app.test/f.woff", "", "static-asset"),
        ("GET", "http://app.test/f.woff2", "", "static-asset"),
        ("GET", "http://app.test/f.ttf", "", "static-asset"),
        ("GET", "http://app.test/f.eot", "", "static-asset"),
        ("GET", "http://app.test/f.otf", "", "static-asset"),
        ("GET", "http://app.test/i.png", "", "static-asset"),
        ("GET", "http://app.test/i.jpg", "", "static-asset"),
        ("GET", "http://app.test/i.jpeg", "", "static-asset"),
        ("GET", "http://app.test/i.gif", "", "static-asset"),
        ("GET", "http://app.test/i.svg", "", "static-asset"),
        ("GET", "http://app.test/i.ico", "", "static-asset"),
        ("GET", "http://app.test/i.webp", "", "static-asset"),
        ("GET", "http://app.test/i.avif", "", "static-asset"),
        ("GET", "http://app.test/app.js.map", "", "static-asset"),
        ("GET", "http://app.test/a.mp3", "", "static-asset"),
        ("GET", "http://app.test/v.mp4", "", "static-asset"),
        ("GET", "http://app.test/v.webm", "", "static-asset"),
        ("GET", "http://app.test/a.ogg", "", "static-asset"),
        # Content types
        ("GET", "http://app.test/avatar/7", "image/png", "content-type"),
        ("GET", "http://app.test/fonts/inter", "font/woff2", "content-type"),
        ("GET", "http://app.test/media/1", "audio/mpeg", "content-type"),
        ("GET", "http://app.test/media/2", "video/mp4", "content-type"),
        ("GET", "http://app.test/theme", "text/css; charset=utf-8", "content-type"),
        ("GET", "http://app.test/fonts/old", "application/font-woff", "content-type"),
        # Dev server HMR
        ("GET", "http://localhost:5173/@vite/client", "", "dev-server-hmr"),
        ("GET", "http://localhost:5173/@fs/src/main.tsx", "", "dev-server-hmr"),
        ("GET", "http://localhost:5173/__vite_ping", "", "dev-server-hmr"),
        ("GET", "http://localhost:3000/__webpack_hmr", "", "dev-server-hmr"),
        ("GET", "http://localhost:3000/main.abc.hot-update.json", "application/json", "dev-server-hmr"),
    ],
)
def test_noise_categories(method: str, url: str, content_type: str, reason: str) -> None:
    assert noise_reason(method, url, content_type) == reason


@pytest.mark.parametrize(
    ("method", "url", "content_type"),
    [
        ("POST", "http://app.test/api/auth", "application/json"),
        ("GET", "http://app.test/api/items", "application/json"),
        ("GET", "http://app.test/dashboard", "text/html"),
        ("GET", "http://app.test/", "text/html"),
        ("GET", "https://analytics-dashboard.example.com/api/reports", "application/json"),
        ("GET", "https://notsentry.io.example.com/api", "application/json"),
        ("GET", "https://www.facebook.com/api/graphql", "application/json"),
        ("GET", "http://app.test/api/manifest", "application/json"),
        ("GET", "http://app.test/docs/json-guide", "text/html"),
        ("GET", "http://app.test/api/users/@me", "application/json"),
    ],
)
def test_meaningful_requests_are_kept(method: str, url: str, content_type: str) -> None:
    assert noise_reason(method, url, content_type) == ""


def test_flow_wrapper_reads_response_content_type() -> None:
    assert journey_noise_reason(make_flow("http://app.test/logo", content_type="image/svg+xml")) == "content-type"
    assert is_journey_noise(make_flow("http://app.test/favicon.ico"))
    assert not is_journey_noise(make_flow("http://app.test/api/items"))
    # A failed request has no response: only the request decides.
    assert not is_journey_noise(make_flow("http://app.test/api/items", response=False))
