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


def test_settings_of_a_plugin_not_loaded_survive_a_save(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    full = Settings.load(path, schema=SCHEMA)
    full.update({"proxy": {"noise_threshold": 7}, "llm": {"api_key": "sk-keep-me"}})
    core_only = Settings.load(path, schema=core_schema())  # noise and integrations disabled
    assert "noise_threshold" not in core_only.data["proxy"] and "llm" not in core_only.data
    core_only.update({"proxy": {"port": 4600}})
    again = Settings.load(path, schema=SCHEMA)
    assert again.get("proxy.noise_threshold") == 7 and again.get("llm.api_key") == "sk-keep-me"
    assert again.get("proxy.port") == 4600 and again.token == full.token


def test_a_bad_stored_value_falls_back_to_its_default(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("proxy:\n  upstream_proxy: 'http://127.0.0.1:abc'\n  noise_threshold: -3\n  port: 4700\n"
                    "logging: 5\n")
    settings = Settings.load(path, schema=SCHEMA)
    assert settings.get("proxy.upstream_proxy") == "" and settings.get("proxy.noise_threshold") == 20
    assert settings.get("proxy.port") == 4700 and settings.get("logging.level") == "info"
    assert len(settings.problems) == 3 and "proxy.upstream_proxy" in settings.problems[0]


def test_a_plugin_secret_is_masked_cleared_and_never_imported() -> None:
    from ghost_addons.settings_schema import Setting

    schema = builtin_schema()
    schema.add("thirdparty", "vault", [Setting("token", "", "A token.", secret=True), Setting("url", "", "U.")])
    data = schema.defaults()
    data["vault"].update(token="s3cr3t-value", url="https://v.example")
    assert schema.masked_view(data)["vault"] == {"token": "****alue", "url": "https://v.example"}
    assert schema.export_view(data)["vault"] == {"token": "", "url": "https://v.example"}
    assert schema.import_update({"vault": {"token": "x", "url": "https://w.example"}}, data) == {
        "vault": {"url": "https://w.example"}}
    assert schema.validate_update({"vault": {"token": "****alue"}}, data) == {}
    with pytest.raises(SettingsError, match="looks like a masked value"):
        schema.validate_update({"vault": {"token": "****beef"}}, data)


@pytest.mark.parametrize("value, message", [
    ("http://127.0.0.1:abc", "valid host and port"), ("http://:8080", "http:// or https://"),
    ("http://a b:80", "mitmproxy accepts"), ("http://host/path", "mitmproxy accepts"),
    ("socks5://h:1", "http://"), ("http://h:0", "port 0"), ("http://h:70000", "valid host and port"),
])
def test_upstream_proxy_values_mitmproxy_would_refuse_are_refused(value, message) -> None:
    with pytest.raises(SettingsError, match=message):
        validate_update({"proxy": {"upstream_proxy": value}})
