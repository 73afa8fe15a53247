"""A third-party check, registered through the hook like the built-ins (loaded by module
name in test_plugin.py): flags responses that carry an X-Debug header."""

from types import SimpleNamespace

from ghost_addons.hookspecs import hookimpl


def debug_header(flow):
    if flow.response is not None:
        for name, value in flow.response.headers:
            if name.lower() == "x-debug":
                yield ("response header X-Debug", value)


@hookimpl
def ghost_security_checks(register):
    register("debug-header", SimpleNamespace(
        title="Debug header in responses", severity="low", confidence="high",
        remediation="Turn debugging off in production.", scope="site", run=debug_header))
