import pytest

from ghost_addons.config import Settings, core_schema
from ghost_addons.plugins import declare, make_plugin_manager
from ghost_addons.settings_schema import SettingsError, SettingsSchema, mask
from plugins import DEFAULT_PLUGINS


def builtin_schema() -> SettingsSchema:
    """The settings the core and the built-in plugins declare."""
    pm = make_plugin_manager(DEFAULT_PLUGINS, entry_points=False)
    return declare(pm, "ghost_settings", SettingsSchema.registrar, core_schema())


SCHEMA = builtin_schema()
DEFAULTS = SCHEMA.defaults()
validate_update = SCHEMA.validate_update
import_update = SCHEMA.import_update


def test_mask() -> None:
    assert mask("") == "" and mask("abcd") == "****" and mask("sk-12345") == "****2345"


@pytest.mark.parametrize("update, message", [
    ({"proxy": {"port": "80"}}, "proxy.port must be an integer"),
    ({"proxy": {"port": 0}}, "port number"),
    ({"proxy": {"noise_enabled": 1}}, "true or false"),
    ({"proxy": {"host_include": "a"}}, "list of strings"),
    ({"proxy": {"upstream_proxy": "socks://x"}}, "http://"),
    ({"proxy": {"bogus": 1}}, "unknown setting proxy.bogus"),
    ({"llm": "x"}, "must be an object"),
])
def test_validation_names_the_key(update, message) -> None:
    with pytest.raises(SettingsError, match=message):
        validate_update(update)


def test_import_never_takes_api_keys_and_skips_empty_sections() -> None:
    update = import_update({"llm": {"provider": "", "api_key": "k"}, "testrail": {"url": "", "email": "", "api_key": "k"},
                            "proxy": {"noise_threshold": 3}})
    assert update == {"proxy": {"noise_threshold": 3}}
    assert import_update({"llm": {"provider": "ollama", "api_key": "k"}}) == {"llm": {"provider": "ollama"}}


def test_settings_file_is_private_and_update_is_partial(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    settings = Settings.load(path, schema=SCHEMA)
    assert path.stat().st_mode & 0o777 == 0o600 and len(settings.token) == 64
    assert settings.update({"proxy": {"noise_threshold": 9}}) == {"proxy.noise_threshold"}
    again = Settings.load(path, schema=SCHEMA)
    assert again.get("proxy.noise_threshold") == 9 and again.token == settings.token
    assert again.get("proxy.noise_window_secs") == DEFAULTS["proxy"]["noise_window_secs"]


def test_rotate_token_reverts_when_the_file_cannot_be_written(tmp_path) -> None:
    settings = Settings.load(tmp_path / "home" / "config.yaml", schema=SCHEMA)
    old = settings.token
    settings.path.unlink()
    settings.path.mkdir()   # the write now fails (permissions would not stop root)
    with pytest.raises(OSError):
        settings.rotate_token()
    assert settings.token == old
