"""Security: the `security.target_hosts` setting, the hosts whose flows passive checks look at.

Declared here, by the feature that owns it, so it is validated, exported and hot-reloaded
like every other setting. The passive checks themselves are not built yet (they are the
next piece of this plugin); until then the setting is stored and nothing reads it.
"""

from __future__ import annotations

from ghost_addons.hookspecs import RegisterSettings, hookimpl
from ghost_addons.settings_schema import Setting


@hookimpl
def ghost_settings(register: RegisterSettings) -> None:
    register("security", Setting("target_hosts", [], "Hosts whose flows the passive security checks examine "
                                 "(patterns, e.g. *.example.com)."))
