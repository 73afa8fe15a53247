"""Ghost's built-in feature plugins. Each is registered exactly like a third-party plugin."""

DEFAULT_PLUGINS: list[str] = [
    "plugins.noise",
    "plugins.retention",
    "plugins.exporters", "plugins.importers", "plugins.codegen", "plugins.compose", "plugins.compare",
    "plugins.breakpoints", "plugins.map_rules", "plugins.injection",
    "plugins.extension_bridge", "plugins.journeys",
    "plugins.js_addons",
    "plugins.integrations",
    "plugins.diagnostics", "plugins.security", "plugins.agent",
    "plugins.webui", "plugins.devices",
]
