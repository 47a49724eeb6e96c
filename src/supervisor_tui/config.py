"""The configuration file: TOML, validated by pydantic, errors that name file, key and need.

Errors are said in the floor's language (``i18n``), keys, values and commands as they are
written in the file; pydantic's own words are replaced by ours for the kinds of mistake a
config holds (``_PROBLEMS``), the rest stay pydantic's English."""

from __future__ import annotations

import getpass
import os
import shlex
import stat
import tomllib
import unicodedata
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from platformdirs import user_data_path
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from supervisor_tui.adapters.base import (
    SourceSettings,
    adapter_kinds,
    is_loopback,
    source_union,
)
from supervisor_tui.core.intraday import IntradaySettings
from supervisor_tui.core.rules import Rule
from supervisor_tui.core.targets import FloorTargets, QueueTargets
from supervisor_tui.files import read_small_file
from supervisor_tui.hub.limits import HUB_MAX_CONNECTIONS, HUB_PER_PEER
from supervisor_tui.i18n import N_, _


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
    timezone: str | None = None
    """The floor's IANA time zone (``Europe/Berlin``): dates follow its summer time. Takes
    the place of ``utc_offset_minutes``."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                _("unknown time zone {zone} (an IANA name such as {example})").format(
                    zone=repr(value), example="'Asia/Ho_Chi_Minh'"
                )
            ) from None
        return value

    @model_validator(mode="after")
    def _one_way_to_say_it(self) -> FloorConfig:
        if self.timezone is not None and self.utc_offset_minutes is not None:
            raise ValueError(
                _("give {first} or {second}, not both").format(
                    first="timezone", second="utc_offset_minutes"
                )
            )
        return self


ThemeName = Literal["dark", "high-contrast", "light"]
"""The board's themes (``supervisor_tui.themes`` defines each)."""


class DisplayConfig(_Strict):
    profile: Literal["wall", "desk"] = "desk"
    """``wall`` hides requester names and ticket subjects."""
    stale_after_s: float = Field(default=60, gt=0)
    """A source whose newest event is older than this is shown as stale."""
    wall_pause_resume_s: float = Field(default=300, gt=0)
    """On the wall profile a pause resumes by itself after this long (a stray ``p``)."""
    dialog_idle_s: float = Field(default=120, gt=0)
    """A dialog left this long without input closes by itself, as if cancelled."""
    language: Literal["en", "vi", "zh", "ja", "uk"] | None = None
    """The board's language; empty means the environment's locale (``--lang`` overrides)."""
    theme: ThemeName = "dark"
    """``high-contrast`` for a wall in a dark room, ``light`` for a bright one."""
    bell: bool = False
    """Ring the terminal bell once for each new CRIT escalation."""
    bell_in_replay: bool = False
    """Ring it in replay too (for a drill)."""
    wall_page_s: float = Field(default=15, gt=0)
    """On the wall profile, how long each page of a queue table too long for the screen shows."""
    long_break_s: float = Field(default=1200, gt=0)
    """An agent away longer than this shows the time in red."""

    def look(self) -> dict[str, Any]:
        """The board's look and sound, as the dashboard's settings take them."""
        return self.model_dump(
            include={"theme", "bell", "bell_in_replay", "wall_page_s", "long_break_s"}
        )


class StoreConfig(_Strict):
    path: Path | None = None
    """The SQLite file; empty means the user data directory's floor.db."""
    url: str | None = Field(default=None, pattern=r"^postgres(ql)?://")
    """A PostgreSQL store instead (``postgresql://user@host/db``), for a floor read from
    several machines. Keep the password out of it: libpq reads PGPASSWORD or ~/.pgpass."""
    url_env: str | None = None
    """Or: the environment variable that holds the URL."""
    schema_name: str = Field(default="supervisor", pattern=r"^[a-z_][a-z0-9_]*$")
    """The PostgreSQL schema (one per floor)."""

    @model_validator(mode="after")
    def _one_kind(self) -> StoreConfig:
        if self.path is not None and (self.url or self.url_env):
            raise ValueError(
                _("give {first} or {second}, not both").format(
                    first="path (SQLite)", second="url / url_env (PostgreSQL)"
                )
            )
        return self

    def postgres_url(self) -> str | None:
        if self.url:
            return self.url
        if self.url_env:
            value = os.environ.get(self.url_env)
            if not value:
                raise ConfigError(
                    _("[store] url_env: environment variable {name} is not set").format(
                        name=self.url_env
                    )
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
        off_loopback = self.listen and not is_loopback(self.address()[0])
        if off_loopback and not (self.tls_cert and self.tls_key):
            raise ValueError(
                _(
                    "listen {address} is not a loopback address: set tls_cert and tls_key, "
                    "or listen on 127.0.0.1 behind a TLS proxy"
                ).format(address=repr(self.listen))
            )
        return self

    @field_validator("listen")
    @classmethod
    def _port(cls, value: str | None) -> str | None:
        return None if value is None else _check_port(value)

    def address(self) -> tuple[str, int]:
        assert self.listen is not None
        host, _, port = self.listen.rpartition(":")
        return host, int(port)


def _check_port(listen: str) -> str:
    port = int(listen.rpartition(":")[2])
    if not 1 <= port <= 65535:
        raise ValueError(_("port {port} is not a TCP port (1 to 65535)").format(port=port))
    return listen


class HubToken(_Strict):
    """A terminal's token: only its SHA-256 is written here (``supervisor-tui token`` makes
    one and prints this entry)."""

    name: str = Field(min_length=1, max_length=80)
    """Recorded on the acks and notes made with this token."""
    scope: Literal["view", "supervise"]
    """``view`` watches; ``supervise`` also acks, notes, snoozes and resolves."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("name")
    @classmethod
    def _visible(cls, name: str) -> str:
        # a line break in a name is how a line is added to a config; others hide or reorder
        # what a supervisor reads on an ack
        hidden = sorted(
            {
                f"U+{ord(c):04X}"
                for c in name
                if not c.isprintable() and unicodedata.category(c) != "Zs"
            }
        )
        if hidden:
            raise ValueError(
                _("no control or invisible characters in a name ({found})").format(
                    found=", ".join(hidden)
                )
            )
        return name


class HubConfig(_Strict):
    """``serve``: the websocket hub terminals watch (``watch ws://host:port``)."""

    listen: str = Field(default="127.0.0.1:8765", pattern=r"^[^\s:]+:\d{1,5}$")
    """Loopback unless told otherwise; any other address needs tls_cert and tls_key."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    send_queue: int = Field(default=256, ge=8, le=100_000)
    """Frames waiting for one terminal before it is resent the floor instead."""
    max_connections: int = Field(default=HUB_MAX_CONNECTIONS, ge=1, le=100_000)
    """Terminals (and their hellos) the hub holds at once; more are told to try again later.
    A floor of many walls and desks raises it (issue #20 aims at 1,000 terminals)."""
    per_address: int = Field(default=HUB_PER_PEER, ge=1, le=100_000)
    """Connections one address may hold: a wall of screens behind one NAT, not a flood."""
    tokens: list[HubToken] = Field(default_factory=list)

    @field_validator("listen")
    @classmethod
    def _port(cls, value: str) -> str:
        return _check_port(value)

    @model_validator(mode="after")
    def _tls_off_loopback(self) -> HubConfig:
        if not is_loopback(self.address()[0]) and not (self.tls_cert and self.tls_key):
            raise ValueError(
                _("listen {address} is not a loopback address: set tls_cert and tls_key").format(
                    address=repr(self.listen)
                )
            )
        if len({t.sha256 for t in self.tokens}) != len(self.tokens):
            raise ValueError(_("two tokens have the same hash"))
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
    max_concurrent: int | None = Field(default=None, ge=1, le=20)
    """Chats an agent of this queue takes at once: Erlang C sizes servers, "need" is
    servers ÷ max_concurrent, rounded up."""


class IntradayConfig(_Strict):
    """``[intraday]``: forecast, adherence and what-if (see core.intraday.IntradaySettings)."""

    history_weeks: int = Field(default=4, ge=1, le=8)
    over_forecast_margin: float = Field(default=0.15, ge=0, le=10)
    over_forecast_min: int = Field(default=10, ge=0)
    adherence_grace_s: float = Field(default=300, ge=0, le=4 * 3600)
    whatif_intervals: int = Field(default=4, ge=0, le=16)

    def settings(self) -> IntradaySettings:
        return IntradaySettings(**self.model_dump())


if TYPE_CHECKING:
    SourceConfig = SourceSettings
else:
    SourceConfig = source_union()
    """A ``[[sources]]`` entry: its ``kind`` picks the settings model of the adapter
    installed under that name (an entry point), which validates every other key."""


def _refuse_repeats(what: str, values: list[str]) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        shown = ", ".join(_key_text(v) for v in repeated)
        raise ValueError(
            _("{what} must be unique (repeated: {names})").format(what=_(what), names=shown)
        )


class Config(_Strict):
    floor: FloorConfig = Field(default_factory=FloorConfig)
    display: DisplayConfig = Field(default_factory=DisplayConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    targets: TargetsConfig = Field(default_factory=TargetsConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    hub: HubConfig = Field(default_factory=HubConfig)
    rules: list[Rule] = Field(default_factory=list)
    intraday: IntradayConfig = Field(default_factory=IntradayConfig)
    keys: dict[str, str] = Field(default_factory=dict)
    """Remapped keys: binding id (e.g. ``escalation.ack``) to a key (e.g. ``"A"``)."""

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[SourceSettings]) -> list[SourceSettings]:
        _refuse_repeats(N_("source names"), [s.name for s in sources])
        return sources

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, rules: list[Rule]) -> list[Rule]:
        _refuse_repeats(N_("rule ids"), [r.id for r in rules])
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
        if self.floor.timezone is not None:
            now_there = datetime.now(ZoneInfo(self.floor.timezone)).utcoffset()
            offset_s = int(now_there.total_seconds()) if now_there is not None else 0
        elif offset is None:
            local = datetime.now().astimezone().utcoffset()
            offset_s = int(local.total_seconds()) if local is not None else 0
        else:
            offset_s = offset * 60
        return FloorTargets(
            default=default,
            queues=queues,
            utc_offset_s=offset_s,
            timezone=self.floor.timezone or "",
        )

    def operator_name(self) -> str:
        if self.floor.operator:
            return self.floor.operator
        try:
            return getpass.getuser()
        except Exception:
            return "operator"


CONFIG_MAX_BYTES = 4 * 1024 * 1024
"""A configuration is a few kilobytes; anything near this is not one."""


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        mode, raw = read_small_file(path, CONFIG_MAX_BYTES)
    except FileNotFoundError:
        raise ConfigError(no_such_file(path)) from None
    except OSError as exc:
        raise ConfigError(cannot_read(path, str(exc.strerror))) from None
    except ValueError as exc:  # a NUL in the path
        raise ConfigError(cannot_read(f"{path!s:.200}", str(exc))) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # whoever can change it can point a source at their own server and collect the
        # token; and it names the floor's secrets, tokens and hubs: its owner's alone
        raise ConfigError(
            _(
                "{path}: others can read or change it (mode {mode}); it decides where "
                "helpdesk tokens are sent: {command}"
            ).format(
                path=path,
                mode=f"{stat.S_IMODE(mode):o}",
                command=f"chmod 600 {shlex.quote(str(path))}",
            )
        )
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            _("{path}: not valid TOML ({error})").format(path=path, error=exc)
        ) from None
    except RecursionError:
        raise ConfigError(
            _("{path}: not valid TOML (nested too deeply)").format(path=path)
        ) from None
    try:
        return parse_config(data, str(path))
    except RecursionError:
        raise ConfigError(
            _("{path}: nested too deeply to be a configuration").format(path=path)
        ) from None


def no_such_file(path: object) -> str:
    """A file named on the command line or in the config that is not there."""
    return _("{path}: no such file").format(path=path)


def cannot_read(path: object, why: str) -> str:
    """A file that is there but cannot be read; ``why`` is the system's own words."""
    return _("{path}: cannot read ({why})").format(path=path, why=why)


_INSTALLED = tuple(sorted(adapter_kinds()))


@lru_cache(maxsize=4)
def _config_model(kinds: tuple[str, ...]) -> type[Config]:
    if kinds == _INSTALLED:
        return Config
    # adapters were installed since this module was imported: their settings models too
    union: Any = source_union()
    model: type[Config] = create_model(
        "Config", __base__=Config, sources=(list[union], Field(default_factory=list))
    )
    return model


def config_model() -> type[Config]:
    """``Config`` with a ``[[sources]]`` entry for every adapter installed now."""
    return _config_model(tuple(sorted(adapter_kinds())))


def parse_config(data: dict[str, Any], origin: str) -> Config:
    model = config_model()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = [_describe(origin, err, data, model) for err in exc.errors()]
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
            out += f".{_key_text(part)}" if out else _key_text(part)
            node = node[part]
        elif isinstance(node, dict) and node.get("kind") == part:
            continue  # the discriminator's tag, not a key in the file
        else:
            out += f".{_key_text(part)}" if out else _key_text(part)
            node = None
    return out or _("(top level)")


def _key_text(key: str) -> str:
    """A key from the file as an error shows it: bare if it can be, else quoted with its
    control characters escaped (a key is data: it must not move the cursor, clear the
    screen or start a new line of the message)."""
    if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key):
        return key
    shown = "".join(
        c
        if c.isprintable() and c not in '"\\'
        else (f"\\{c}" if c in '"\\' else f"\\u{ord(c):04X}")
        for c in key
    )
    return f'"{shown}"'


def _model_at(
    loc: tuple[int | str, ...], data: Any, root: type[BaseModel]
) -> type[BaseModel] | None:
    """The model that holds the key at ``loc``, to list the keys it does accept."""
    model: Any = root
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
    for _depth in range(6):
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


def _describe(origin: str, err: Any, data: dict[str, Any], root: type[BaseModel]) -> str:
    loc = tuple(err["loc"])
    where = _loc_text(loc, data)
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc, data, root)
        expected = ", ".join(sorted(model.model_fields)) if model is not None else "-"
        problem = _("unknown key (expected one of: {keys})").format(keys=expected)
        return _("{origin}: {where}: {problem}").format(origin=origin, where=where, problem=problem)
    if kind == "missing":
        problem = _("required key is missing")
        return _("{origin}: {where}: {problem}").format(origin=origin, where=where, problem=problem)
    if kind == "union_tag_invalid":
        expected = err.get("ctx", {}).get("expected_tags", "")
        kind_given = err["input"].get("kind")
        problem = _("unknown kind {kind} (expected {kinds})").format(
            kind=repr(kind_given), kinds=expected
        )
        return _("{origin}: {where}: {problem}").format(
            origin=origin, where=f"{where}.kind", problem=problem
        )
    if kind == "union_tag_not_found":
        problem = _("needs a 'kind' key")
        return _("{origin}: {where}: {problem}").format(origin=origin, where=where, problem=problem)
    problem = _problem(err)
    got = err.get("input")
    if isinstance(got, dict | list):
        return _("{origin}: {where}: {problem}").format(origin=origin, where=where, problem=problem)
    return _("{origin}: {where}: {problem}, got {value}").format(
        origin=origin, where=where, problem=problem, value=repr(got)
    )


_PROBLEMS: dict[str, str] = {
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
    "literal_error": N_("must be one of {expected}"),
    "string_pattern_mismatch": N_("must match the pattern {pattern}"),
    "string_too_short": N_("must have at least {min_length} characters"),
    "string_too_long": N_("must have at most {max_length} characters"),
    "int_parsing": N_("must be a whole number"),
    "int_type": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_parsing": N_("must be a number"),
    "float_type": N_("must be a number"),
    "bool_parsing": N_("must be true or false"),
    "bool_type": N_("must be true or false"),
    "string_type": N_("must be text (in quotes)"),
    "list_type": N_("must be a list ([…])"),
    "dict_type": N_("must be a table"),
    "model_type": N_("must be a table"),
    "model_attributes_type": N_("must be a table"),
    "enum": N_("must be one of {expected}"),
    "finite_number": N_("must be a finite number"),
    "int_parsing_size": N_("is too large a number"),
    "multiple_of": N_("must be a multiple of {multiple_of}"),
    "too_short": N_("must have at least {min_length} items"),
    "too_long": N_("must have at most {max_length} items"),
    "set_type": N_("must be a list ([…])"),
    "tuple_type": N_("must be a list ([…])"),
    "path_type": N_("must be a path (in quotes)"),
    "string_unicode": N_("must be text (in quotes)"),
    "date_parsing": N_("must be a date (2026-11-24)"),
    "date_type": N_("must be a date (2026-11-24)"),
    "date_from_datetime_parsing": N_("must be a date (2026-11-24)"),
    "datetime_parsing": N_("must be a date and time (2026-11-24T08:00:00)"),
    "datetime_type": N_("must be a date and time (2026-11-24T08:00:00)"),
    "datetime_from_date_parsing": N_("must be a date and time (2026-11-24T08:00:00)"),
    "time_parsing": N_("must be a time of day (08:00)"),
    "time_type": N_("must be a time of day (08:00)"),
}
"""Pydantic's error kinds a config meets, in our words; ``ctx`` fills their placeholders."""


def _bound(value: Any) -> str:
    """A bound as the file would write it: ``0``, not pydantic's ``0.0``; a list of choices
    without pydantic's English "or" (``'low', 'normal' or 'high'``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("' or '", "', '")


def _problem(err: Any) -> str:
    """What is wrong with a value, in the floor's language where we have the words (a
    validator's own message and rarer kinds stay pydantic's English)."""
    template = _PROBLEMS.get(err["type"])
    if template is None:
        return str(err["msg"]).removeprefix("Value error, ")
    try:
        return _(template).format(**{k: _bound(v) for k, v in (err.get("ctx") or {}).items()})
    except (KeyError, IndexError, ValueError):
        return str(err["msg"])


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
