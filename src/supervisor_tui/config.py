"""The configuration file: TOML, validated by pydantic, errors that name file, key and need."""

from __future__ import annotations

import getpass
import os
import stat
import tomllib
from datetime import datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from platformdirs import user_data_path
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from supervisor_tui.core.rules import Rule
from supervisor_tui.core.targets import FloorTargets, QueueTargets


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, the key and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FloorConfig(_Strict):
    name: str = "Support floor"
    operator: str = ""
    """Name recorded on acks and notes from this terminal; empty means the login name."""
    utc_offset_minutes: int | None = Field(default=None, ge=-14 * 60, le=14 * 60)
    """The floor's offset from UTC ("today" starts at its midnight); empty means this machine's."""


class DisplayConfig(_Strict):
    profile: Literal["wall", "desk"] = "desk"
    """``wall`` hides requester names and ticket subjects."""
    stale_after_s: float = Field(default=60, gt=0)
    """A source whose newest event is older than this is shown as stale."""
    wall_pause_resume_s: float = Field(default=300, gt=0)
    """On the wall profile a pause resumes by itself after this long (a stray ``p``)."""
    dialog_idle_s: float = Field(default=120, gt=0)
    """A dialog left this long without input closes by itself, as if cancelled."""


class StoreConfig(_Strict):
    path: Path | None = None
    """The SQLite file; empty means the user data directory's floor.db."""
    url: str | None = Field(default=None, pattern=r"^postgres(ql)?://")
    """A PostgreSQL store instead (``postgresql://user@host/db``), for several collectors
    feeding one floor. Keep the password out of it: libpq reads PGPASSWORD or ~/.pgpass."""
    url_env: str | None = None
    """Or: the environment variable that holds the URL."""
    schema_name: str = Field(default="supervisor", pattern=r"^[a-z_][a-z0-9_]*$")
    """The PostgreSQL schema (one per floor)."""

    @model_validator(mode="after")
    def _one_kind(self) -> StoreConfig:
        if self.path is not None and (self.url or self.url_env):
            raise ValueError("give either path (SQLite) or url / url_env (PostgreSQL), not both")
        return self

    def postgres_url(self) -> str | None:
        if self.url:
            return self.url
        if self.url_env:
            value = os.environ.get(self.url_env)
            if not value:
                raise ConfigError(
                    f"[store] url_env: environment variable {self.url_env} is not set"
                )
            return value
        return None

    @field_validator("path")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return None if value is None else Path(os.path.expanduser(str(value)))

    def resolved_path(self) -> Path:
        return self.path or user_data_path("supervisor-tui") / "floor.db"


class WebhooksConfig(_Strict):
    """Where helpdesks push change notices (``POST /webhooks/<source name>``)."""

    listen: str | None = Field(default=None, pattern=r"^[^\s:]+:\d{1,5}$")
    """``host:port``; empty means no webhook endpoint (sources poll only)."""
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @model_validator(mode="after")
    def _tls_off_loopback(self) -> WebhooksConfig:
        off_loopback = self.listen and not _is_loopback(self.address()[0])
        if off_loopback and not (self.tls_cert and self.tls_key):
            raise ValueError(
                f"listen {self.listen!r} is not a loopback address: "
                "set tls_cert and tls_key, or listen on 127.0.0.1 behind a TLS proxy"
            )
        return self

    def address(self) -> tuple[str, int]:
        assert self.listen is not None
        host, _, port = self.listen.rpartition(":")
        return host, int(port)


class HubToken(_Strict):
    """A terminal's token: only its SHA-256 is written here (``supervisor-tui token`` makes
    one and prints this entry)."""

    name: str = Field(min_length=1, max_length=80)
    """Recorded on the acks and notes made with this token."""
    scope: Literal["view", "supervise"]
    """``view`` watches; ``supervise`` also acks, notes, snoozes and resolves."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class HubConfig(_Strict):
    """``serve``: the websocket hub terminals watch (``watch ws://host:port``)."""

    listen: str = Field(default="127.0.0.1:8765", pattern=r"^[^\s:]+:\d{1,5}$")
    """Loopback unless told otherwise; any other address needs tls_cert and tls_key."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    send_queue: int = Field(default=256, ge=8, le=100_000)
    """Frames waiting for one terminal before it is resent the floor instead."""
    tokens: list[HubToken] = Field(default_factory=list)

    @model_validator(mode="after")
    def _tls_off_loopback(self) -> HubConfig:
        if not _is_loopback(self.address()[0]) and not (self.tls_cert and self.tls_key):
            raise ValueError(
                f"listen {self.listen!r} is not a loopback address: set tls_cert and tls_key"
            )
        if len({t.sha256 for t in self.tokens}) != len(self.tokens):
            raise ValueError("two tokens have the same hash")
        return self

    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host, int(port)


class TargetsConfig(_Strict):
    sl_threshold_s: float = Field(default=20, gt=0)
    sl_target: float = Field(default=0.8, gt=0, lt=1)
    short_abandon_s: float = Field(default=5, ge=0)
    aht_default_s: float = Field(default=300, gt=0)
    erlang_window_s: float = Field(default=1800, gt=0)
    queues: dict[str, QueueTargetsConfig] = Field(default_factory=dict)


class QueueTargetsConfig(_Strict):
    sl_threshold_s: float | None = Field(default=None, gt=0)
    sl_target: float | None = Field(default=None, gt=0, lt=1)
    short_abandon_s: float | None = Field(default=None, ge=0)
    aht_default_s: float | None = Field(default=None, gt=0)


class SimulatorSource(_Strict):
    name: str = Field(min_length=1)
    kind: Literal["simulator"]
    seed: int = 7
    agents: int = Field(default=40, ge=1, le=5000)
    queues: int = Field(default=5, ge=1, le=500)
    speed: float = Field(default=1.0, gt=0, le=3600)
    """Simulated seconds per wall-clock second."""
    warmup_s: float = Field(default=3 * 3600 + 2400, ge=0, le=12 * 3600)
    """How much of the simulated day is already behind us at start (back-filled at once)."""


class ZendeskSource(_Strict):
    """A Zendesk account. Secrets are named here, never written here: ``token_env`` names
    an environment variable, ``token_file`` a file only its owner can read."""

    name: str = Field(min_length=1)
    kind: Literal["zendesk"]
    subdomain: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    base_url: str | None = None
    """Wins over ``subdomain``; tests and the demo point it at a fake on loopback."""
    email: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    oauth_token_env: str | None = None
    rate_limit_per_minute: int = Field(default=200, ge=10, le=100_000)
    """The plan's limit (Team 200, Growth and Professional 400, Enterprise 700)."""
    budget_share: float = Field(default=0.5, gt=0, le=1)
    """The share of that limit this source may use; the rest is left to other integrations."""
    write_back: bool = False
    """Write acks and notes back to the ticket as private comments and a tag."""
    ack_tag: str = Field(default="supervisor_acked", pattern=r"^[A-Za-z0-9_/-]+$")
    webhook_secret_env: str | None = None
    group_channels: dict[str, Literal["voice", "chat", "email", "web", "social", "other"]] = Field(
        default_factory=dict
    )
    """A group's channel by its name, where the name does not say it ("Tier 1" = "voice")."""
    escalation_tags: list[str] = Field(default_factory=lambda: ["escalated"])
    views: dict[str, int] = Field(default_factory=dict)
    """Views whose counts the freshness bar shows: ``{ "Escalated" = 360001234567 }``."""
    hot_interval_s: float = Field(default=5, ge=1, le=600)
    ticket_interval_s: float = Field(default=10, ge=6, le=3600)
    warm_interval_s: float = Field(default=30, ge=10, le=3600)
    backfill_s: float = Field(default=7 * 24 * 3600, ge=3600, le=90 * 24 * 3600)

    @model_validator(mode="after")
    def _needs(self) -> ZendeskSource:
        if not self.base_url and not self.subdomain:
            raise ValueError("needs subdomain (or base_url)")
        if self.base_url:
            _check_base_url(self.base_url)
        if not self.oauth_token_env and not (self.email and (self.token_env or self.token_file)):
            raise ValueError("needs email with token_env or token_file, or oauth_token_env")
        return self


class FreshdeskSource(_Strict):
    """A Freshdesk account. The API key is named here (``api_key_env`` / ``api_key_file``),
    never written here."""

    name: str = Field(min_length=1)
    kind: Literal["freshdesk"]
    domain: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    base_url: str | None = None
    """Wins over ``domain``; tests and the demo point it at a fake on loopback."""
    api_key_env: str | None = None
    api_key_file: str | None = None
    plan: Literal["trial", "growth", "pro", "enterprise"] = "growth"
    """Sets the budgets: trial 50, growth 200 (20 for ticket lists), pro 400/100,
    enterprise 700/200 calls a minute."""
    budget_share: float = Field(default=0.5, gt=0, le=1)
    write_back: bool = False
    ack_tag: str = Field(default="supervisor_acked", pattern=r"^[A-Za-z0-9_/-]+$")
    webhook_secret_env: str | None = None
    group_channels: dict[str, Literal["voice", "chat", "email", "web", "social", "other"]] = Field(
        default_factory=dict
    )
    ticket_stats: bool = True
    """``include=stats`` on the ticket list: 2 more credits a page, for first response and
    resolution times (the shift report) and a chat's answer time."""
    ticket_interval_s: float | None = Field(default=None, ge=3, le=3600)
    """Empty: as often as the plan's ticket-list limit allows (growth 10 s, pro 5 s)."""
    agent_interval_s: float = Field(default=30, ge=10, le=3600)
    idle_after_s: float = Field(default=1800, ge=60, le=86_400)
    backfill_s: float = Field(default=7 * 24 * 3600, ge=3600, le=30 * 24 * 3600)

    @model_validator(mode="after")
    def _needs(self) -> FreshdeskSource:
        if not self.base_url and not self.domain:
            raise ValueError("needs domain (or base_url)")
        if self.base_url:
            _check_base_url(self.base_url)
        if not (self.api_key_env or self.api_key_file):
            raise ValueError("needs api_key_env or api_key_file")
        return self


class JsmSource(_Strict):
    """A Jira Service Management (Cloud) site. Secrets are named here, never written here:
    ``token_env`` / ``token_file`` (an API token, with ``email``) or ``oauth_token_env``."""

    name: str = Field(min_length=1)
    kind: Literal["jsm"]
    site: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    """"acme" for https://acme.atlassian.net."""
    base_url: str | None = None
    """Wins over ``site``; with OAuth, ``https://api.atlassian.com/ex/jira/<cloud id>``; tests
    and the demo point it at a fake on loopback."""
    email: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    oauth_token_env: str | None = None
    service_desk_ids: list[str] = Field(default_factory=list)
    """Empty: every service desk the account can see."""
    rate_limit_per_minute: int = Field(default=300, ge=10, le=100_000)
    """Atlassian does not publish a per-minute figure for API tokens; this is our ceiling."""
    budget_share: float = Field(default=0.5, gt=0, le=1)
    write_back: bool = False
    """Write acks and notes back as internal comments and a label."""
    ack_label: str = Field(default="supervisor_acked", pattern=r"^[^\s]{1,255}$")
    queue_channels: dict[str, Literal["voice", "chat", "email", "web", "social", "other"]] = Field(
        default_factory=dict
    )
    """A queue's channel by its name, where the name does not say it."""
    ticket_interval_s: float = Field(default=10, ge=2, le=3600)
    queue_interval_s: float = Field(default=30, ge=5, le=3600)
    sla_interval_s: float = Field(default=15, ge=5, le=3600)
    members_interval_s: float = Field(default=120, ge=10, le=3600)
    """How often the queues' member lists are read (counts: every ``queue_interval_s``)."""
    overlap_s: float = Field(default=120, ge=60, le=3600)
    backfill_s: float = Field(default=7 * 24 * 3600, ge=3600, le=90 * 24 * 3600)

    @model_validator(mode="after")
    def _needs(self) -> JsmSource:
        if not self.base_url and not self.site:
            raise ValueError("needs site (or base_url)")
        if self.base_url:
            _check_base_url(self.base_url)
        if not self.oauth_token_env and not (self.email and (self.token_env or self.token_file)):
            raise ValueError("needs email with token_env or token_file, or oauth_token_env")
        return self


class ServiceNowSource(_Strict):
    """A ServiceNow instance. Secrets are named here, never written here: ``password_env`` /
    ``password_file`` (with ``username``: HTTP Basic) or ``oauth_token_env`` (a bearer
    token)."""

    name: str = Field(min_length=1)
    kind: Literal["servicenow"]
    instance: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    """"acme" for https://acme.service-now.com."""
    base_url: str | None = None
    """Wins over ``instance``; tests and the demo point it at a fake on loopback."""
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    oauth_token_env: str | None = None
    tables: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,79}$")]] = Field(
        default_factory=lambda: ["incident"], min_length=1
    )
    """Task tables read as tickets (incident, sc_task, ...)."""
    rate_limit_per_minute: int = Field(default=120, ge=10, le=100_000)
    """Our ceiling; a rate limit rule on the instance (counted per hour) lowers it."""
    budget_share: float = Field(default=0.5, gt=0, le=1)
    write_back: bool = False
    """Write acks and notes back as work notes (internal)."""
    presence: Literal["auto", "awa", "none"] = "auto"
    """auto: Advanced Work Assignment presence where the instance has it, else agents by their
    open work; awa: only AWA; none: never read AWA."""
    group_channels: dict[str, Literal["voice", "chat", "email", "web", "social", "other"]] = Field(
        default_factory=dict
    )
    page_size: int = Field(default=500, ge=10, le=10_000)
    ticket_interval_s: float = Field(default=15, ge=3, le=3600)
    sla_interval_s: float = Field(default=30, ge=5, le=3600)
    presence_interval_s: float = Field(default=30, ge=5, le=3600)
    workload_interval_s: float = Field(default=60, ge=10, le=3600)
    backfill_s: float = Field(default=7 * 24 * 3600, ge=3600, le=90 * 24 * 3600)

    @model_validator(mode="after")
    def _needs(self) -> ServiceNowSource:
        if not self.base_url and not self.instance:
            raise ValueError("needs instance (or base_url)")
        if self.base_url:
            _check_base_url(self.base_url)
        if not self.oauth_token_env and not (
            self.username and (self.password_env or self.password_file)
        ):
            raise ValueError("needs username and password_env or password_file, or oauth_token_env")
        return self


def _check_base_url(base_url: str) -> None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError("base_url: plain http is only allowed to a loopback address")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


SourceConfig = Annotated[
    SimulatorSource | ZendeskSource | FreshdeskSource | JsmSource | ServiceNowSource,
    Field(discriminator="kind"),
]


def _refuse_repeats(what: str, values: list[str]) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} must be unique (repeated: {', '.join(repeated)})")


class Config(_Strict):
    floor: FloorConfig = Field(default_factory=FloorConfig)
    display: DisplayConfig = Field(default_factory=DisplayConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    targets: TargetsConfig = Field(default_factory=TargetsConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    hub: HubConfig = Field(default_factory=HubConfig)
    rules: list[Rule] = Field(default_factory=list)
    keys: dict[str, str] = Field(default_factory=dict)
    """Remapped keys: binding id (e.g. ``escalation.ack``) to a key (e.g. ``"A"``)."""

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        _refuse_repeats("source names", [s.name for s in sources])
        return sources

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, rules: list[Rule]) -> list[Rule]:
        _refuse_repeats("rule ids", [r.id for r in rules])
        return rules

    def floor_targets(self) -> FloorTargets:
        t = self.targets
        default = QueueTargets(
            sl_threshold_s=t.sl_threshold_s,
            sl_target=t.sl_target,
            short_abandon_s=t.short_abandon_s,
            aht_default_s=t.aht_default_s,
            erlang_window_s=t.erlang_window_s,
        )
        queues = {}
        for queue_id, q in t.queues.items():
            overrides = {k: v for k, v in q.model_dump().items() if v is not None}
            queues[queue_id] = QueueTargets(
                **{**{f: getattr(default, f) for f in QueueTargets.__slots__}, **overrides}
            )
        offset = self.floor.utc_offset_minutes
        if offset is None:
            local = datetime.now().astimezone().utcoffset()
            offset_s = int(local.total_seconds()) if local is not None else 0
        else:
            offset_s = offset * 60
        return FloorTargets(default=default, queues=queues, utc_offset_s=offset_s)

    def operator_name(self) -> str:
        if self.floor.operator:
            return self.floor.operator
        try:
            return getpass.getuser()
        except Exception:
            return "operator"


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # whoever can change it can point a source at their own server and collect the
        # token; and it names the floor's secrets, tokens and hubs: its owner's alone
        raise ConfigError(
            f"{path}: others can read or change it (mode {stat.S_IMODE(mode):o}); "
            f"it decides where helpdesk tokens are sent: chmod 600 {path}"
        )
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, str(path))


def parse_config(data: dict[str, Any], origin: str) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(origin, err, data) for err in exc.errors()]
        raise ConfigError("\n".join(lines)) from None


def _loc_text(loc: tuple[int | str, ...], data: Any) -> str:
    """``sources[0].seed`` from pydantic's location, dropping the union tag it inserts."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        elif isinstance(node, dict) and part in node:
            out += f".{part}" if out else part
            node = node[part]
        elif isinstance(node, dict) and node.get("kind") == part:
            continue  # the discriminator's tag, not a key in the file
        else:
            out += f".{part}" if out else part
            node = None
    return out or "(top level)"


def _model_at(loc: tuple[int | str, ...], data: Any) -> type[BaseModel] | None:
    """The model that holds the key at ``loc``, to list the keys it does accept."""
    model: Any = Config
    node = data
    for part in loc[:-1]:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            model = _unwrap(model.model_fields[part].annotation, None)
            node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, list):
                continue
            model = _unwrap(model, node)
        elif isinstance(node, dict) and node.get("kind") == part:
            continue
        else:
            model = _unwrap(model, node)
            node = node.get(part) if isinstance(node, dict) else None
    model = _unwrap(model, node if isinstance(node, dict) else None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unwrap(tp: Any, node: Any) -> Any:
    for _ in range(6):
        origin = get_origin(tp)
        if origin is Annotated or origin in (list, tuple):
            tp = get_args(tp)[0]
        elif origin is dict:
            tp = get_args(tp)[1]
        elif get_args(tp):  # a union: pick the member whose kind tag matches
            members = [a for a in get_args(tp) if isinstance(a, type)]
            kind = node.get("kind") if isinstance(node, dict) else None
            match = [m for m in members if issubclass(m, BaseModel) and _kind_of(m) == kind]
            tp = match[0] if match else (members[0] if len(members) == 1 else tp)
            if not match:
                return tp
        else:
            return tp
    return tp


def _kind_of(model: type[BaseModel]) -> Any:
    field = model.model_fields.get("kind")
    if field is None:
        return None
    args = get_args(field.annotation)
    return args[0] if args else None


def _describe(origin: str, err: Any, data: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    where = _loc_text(loc, data)
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc, data)
        expected = ", ".join(sorted(model.model_fields)) if model is not None else "none"
        return f"{origin}: {where}: unknown key (expected one of: {expected})"
    if kind == "missing":
        return f"{origin}: {where}: required key is missing"
    if kind == "union_tag_invalid":
        expected = err.get("ctx", {}).get("expected_tags", "")
        kind_given = err["input"].get("kind")
        return f"{origin}: {where}.kind: unknown kind {kind_given!r} (expected {expected})"
    if kind == "union_tag_not_found":
        return f"{origin}: {where}: needs a 'kind' key"
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) else f", got {got!r}"
    return f"{origin}: {where}: {err['msg']}{shown}"


def default_rules() -> list[dict[str, Any]]:
    """The rules a floor starts with (the same as config.example.toml)."""
    return [
        {
            "id": "longest-wait",
            "kind": "queue_threshold",
            "metric": "longest_wait",
            "channels": ["voice", "chat"],
            "warn": 60,
            "alert": 120,
            "clear": 45,
        },
        {
            "id": "service-level",
            "kind": "queue_threshold",
            "metric": "service_level",
            "direction": "below",
            "warn": 0.70,
            "alert": 0.60,
            "clear": 0.75,
            "min_volume": 40,
        },
        {
            "id": "sla-risk",
            "kind": "sla_time_left",
            "warn_fraction": 0.25,
            "priorities": ["urgent", "high"],
        },
        {
            "id": "complaint",
            "kind": "ticket_flag",
            "tags": ["complaint"],
            "helpdesk_escalated": True,
            "realert_after_s": 600,
        },
    ]
