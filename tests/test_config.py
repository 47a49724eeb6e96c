"""The example config is valid, and a bad one says which file, which key and what was expected."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from supervisor_tui.config import Config, ConfigError, default_rules, load_config, parse_config
from supervisor_tui.core.rules import QueueThresholdRule

from .conftest import ROOT

EXAMPLE = ROOT / "config.example.toml"


def example() -> dict:
    return tomllib.loads(EXAMPLE.read_text())


def test_example_config_loads_and_matches_the_demo_rules(tmp_path: Path) -> None:
    mine = tmp_path / "config.toml"  # as a site would install it: its owner's alone
    mine.write_bytes(EXAMPLE.read_bytes())
    mine.chmod(0o600)
    config = load_config(mine)
    assert [s.kind for s in config.sources] == ["simulator"]
    assert config.store.path is not None and "~" not in str(config.store.path)
    targets = config.floor_targets()
    assert targets.for_queue("chat").sl_threshold_s == 60
    assert targets.for_queue("voice-sales").sl_threshold_s == 20
    wait = config.rules[0]
    assert isinstance(wait, QueueThresholdRule)
    assert (wait.warn, wait.alert, wait.clear) == (60, 120, 45)
    # The demo runs on the same rules a new site starts from.
    assert config.rules == Config.model_validate({"rules": default_rules()}).rules


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "site.toml")
    return str(info.value)


def test_unknown_key_names_file_key_and_what_was_expected() -> None:
    data = example()
    data["sources"][0]["sead"] = 3
    message = _error(data)
    assert message.startswith("site.toml: sources[0].sead: unknown key")
    assert "seed" in message and "agents" in message


def test_unknown_key_in_a_rule_lists_that_rule_kinds_keys() -> None:
    data = example()
    data["rules"][0]["wran"] = 30
    message = _error(data)
    assert "rules[0].wran: unknown key" in message
    assert "metric" in message and "tags" not in message  # this rule kind's keys only


def test_wrong_type_and_unknown_kind_are_explained() -> None:
    data = example()
    data["store"]["path"] = 12
    data["targets"]["sl_target"] = 1.5
    data["sources"].append({"name": "zd", "kind": "zendeskk"})
    message = _error(data)
    assert "site.toml: targets.sl_target:" in message and "1.5" in message
    assert "sources[1].kind: unknown kind 'zendeskk'" in message


def test_rule_levels_must_make_sense() -> None:
    data = example()
    data["rules"][0]["alert"] = 30  # below warn (60) for an "above" rule
    assert "alert must be above warn" in _error(data)


def test_duplicate_names_refused() -> None:
    data = example()
    data["sources"].append(dict(data["sources"][0]))
    assert "source names must be unique (repeated: simulator)" in _error(data)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[floor\nname = 'x'")
    broken.chmod(0o600)
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML"):
        load_config(broken)
    with pytest.raises(ConfigError, match=r"nope.toml: no such file"):
        load_config(tmp_path / "nope.toml")


def _zendesk(**over: object) -> dict:
    source = {
        "name": "zendesk",
        "kind": "zendesk",
        "subdomain": "acme",
        "email": "bot@acme.example",
        "token_env": "ZENDESK_API_TOKEN",
    }
    source.update(over)
    return {"sources": [source]}


def test_commented_zendesk_example_is_a_valid_source() -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    block = [
        line[2:]
        for line in text.splitlines()
        if line.startswith("# ") and "=" in line and not line.startswith("# [")
    ]
    start = next(i for i, line in enumerate(block) if line.startswith('name = "zendesk"'))
    source = tomllib.loads("\n".join(block[start : start + 11]))
    parsed = parse_config({"sources": [source]}, "example")
    (zendesk,) = parsed.sources
    assert zendesk.kind == "zendesk" and zendesk.write_back is True
    assert zendesk.group_channels == {"Tier 1": "voice"}


def test_zendesk_source_needs_an_account_and_a_credential() -> None:
    assert "needs subdomain" in _error(_zendesk(subdomain=None))
    assert "needs email with token_env" in _error(_zendesk(email=None))
    message = _error(_zendesk(tokn_env="X"))
    assert "sources[0].tokn_env: unknown key" in message and "token_env" in message


def test_zendesk_plain_http_only_to_loopback() -> None:
    ok = parse_config(_zendesk(base_url="http://127.0.0.1:8080"), "site.toml")
    assert ok.sources[0].base_url == "http://127.0.0.1:8080"
    assert "only allowed to a loopback" in _error(_zendesk(base_url="http://zendesk.example"))
    parse_config(_zendesk(base_url="https://acme.zendesk.com"), "site.toml")


def test_webhooks_off_loopback_need_tls() -> None:
    parse_config({"webhooks": {"listen": "127.0.0.1:8787"}}, "site.toml")
    assert "set tls_cert and tls_key" in _error({"webhooks": {"listen": "0.0.0.0:8787"}})
    assert "webhooks.listen" in _error({"webhooks": {"listen": "no-port"}})


def test_commented_freshdesk_example_is_a_valid_source() -> None:
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    lines = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    start = lines.index('name = "freshdesk"')
    source = tomllib.loads("\n".join(lines[start : start + 7]))
    (freshdesk,) = parse_config({"sources": [source]}, "example").sources
    assert freshdesk.kind == "freshdesk" and freshdesk.plan == "growth"


def test_freshdesk_source_needs_a_key_and_a_known_plan() -> None:
    base = {"name": "fd", "kind": "freshdesk", "domain": "acme", "api_key_env": "K"}
    parse_config({"sources": [base]}, "site.toml")
    assert "needs api_key_env or api_key_file" in _error(
        {"sources": [{k: v for k, v in base.items() if k != "api_key_env"}]}
    )
    assert "sources[0].plan" in _error({"sources": [{**base, "plan": "platinum"}]})
    assert "only allowed to a loopback" in _error(
        {"sources": [{**base, "base_url": "http://acme.example"}]}
    )


def test_store_is_sqlite_or_postgresql_not_both(monkeypatch: pytest.MonkeyPatch) -> None:
    ok = parse_config({"store": {"url": "postgresql://floor@db.internal/floor"}}, "site.toml")
    assert ok.store.postgres_url() == "postgresql://floor@db.internal/floor"
    assert "not both" in _error({"store": {"path": "/x.db", "url": "postgresql://h/db"}})
    assert "store.url" in _error({"store": {"url": "mysql://h/db"}})
    env = parse_config({"store": {"url_env": "FLOOR_DB_URL"}}, "site.toml")
    with pytest.raises(ConfigError, match="FLOOR_DB_URL is not set"):
        env.store.postgres_url()
    monkeypatch.setenv("FLOOR_DB_URL", "postgresql://h/db")
    assert env.store.postgres_url() == "postgresql://h/db"


def test_a_config_others_can_change_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('[floor]\nname = "x"\n', encoding="utf-8")
    for mode in (0o664, 0o644, 0o640):
        path.chmod(mode)
        with pytest.raises(ConfigError, match=rf"read or change it \(mode {mode:o}\).*chmod 600"):
            load_config(path)
    path.chmod(0o600)
    assert load_config(path).floor.name == "x"


def test_an_adapter_installed_by_entry_point_owns_its_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A site's own adapter (installed under the entry point group) brings its settings
    model; config.py knows nothing of it and still names its keys in its errors."""
    from typing import Literal

    import supervisor_tui.adapters.base as base
    import supervisor_tui.config as config_module

    class PagerSource(base.SourceSettings):
        kind: Literal["pager"]
        pager_url: str
        escalate_after_s: int = 60

    class PagerAdapter:
        settings_model = PagerSource

    class Plugin:
        def load(self) -> type:
            return PagerAdapter

    installed = base.adapter_kinds()
    monkeypatch.setattr(base, "adapter_kinds", lambda: {**installed, "pager": Plugin()})
    monkeypatch.setattr(config_module, "adapter_kinds", base.adapter_kinds)
    ok = parse_config(
        {"sources": [{"name": "p", "kind": "pager", "pager_url": "https://pager.example"}]},
        "site.toml",
    )
    assert ok.sources[0].kind == "pager" and ok.sources[0].escalate_after_s == 60
    with pytest.raises(ConfigError) as bad:
        parse_config({"sources": [{"name": "p", "kind": "pager", "pager_ur": "x"}]}, "site.toml")
    message = str(bad.value)
    assert "site.toml: sources[0].pager_ur: unknown key (expected one of: " in message
    assert "escalate_after_s, kind, name, pager_url" in message
    assert "sources[0].pager_url: required key is missing" in message
