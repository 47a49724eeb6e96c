"""The Adapter protocol: how a backend feeds the floor, and how acks go back to it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from ipaddress import ip_address
from typing import Annotated, Any, ClassVar, Protocol, Union, runtime_checkable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from supervisor_tui.i18n import _
from supervisor_tui.model import Capability, HealthState, Limit, NewEvent, Reason
from supervisor_tui.model.reasons import english

Clock = Callable[[], float]
ENTRY_POINT_GROUP = "supervisor_tui.adapters"


class Sink(Protocol):
    """Where an adapter puts what it learned. ``emit`` returns once the events are stored."""

    async def emit(self, events: Sequence[NewEvent], cursor: str | None = None) -> None: ...

    async def health(
        self,
        state: HealthState,
        reason: str = "",
        *,
        retry_at: float | None = None,
        budget_left: float | None = None,
        poll_interval_s: float | None = None,
        limits: Sequence[Limit] = (),
        said: Reason | None = None,
    ) -> None: ...

    async def quarantine(self, kind: str, raw: str, reason: str) -> None: ...


class WriteBackError(Exception):
    """A write-back failed. ``retryable`` says whether the outbox should try again."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after_s: float = 30) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


@runtime_checkable
class Adapter(Protocol):
    name: str

    async def run(self, sink: Sink, cursor: str | None) -> None:
        """Feed the sink until cancelled, resuming from ``cursor`` (None: from scratch)."""

    async def write_back(self, action: str, body: dict[str, Any]) -> None:
        """Deliver an ack, note or resolve to the backend (an internal note, a tag)."""


@runtime_checkable
class LinksTickets(Protocol):
    def ticket_url_template(self) -> str:
        """The helpdesk's own page of a ticket, ``{id}`` standing for its id ("" none)."""


def ticket_page(adapter: Adapter) -> str:
    """Where an adapter's tickets are read by a person ("" when it has no such page)."""
    return adapter.ticket_url_template() if isinstance(adapter, LinksTickets) else ""


@dataclass(frozen=True, slots=True)
class Need:
    """A capability an adapter can supply, and what the account must give for it: the
    README's table of figures and ``check``'s list of limits are made from these."""

    capability: Capability
    endpoint: str
    """What is read ("GET /api/v2/agent_availabilities")."""
    requires: str
    """The role, scope, plan or add-on it takes ("omnichannel routing; any agent")."""
    without: str
    """What the board shows without it ("agents show no status")."""
    fix: str = ""
    """What gives it back, when the account lacks it."""
    optional: bool = True
    """False: without it the source cannot feed the board at all (its tickets)."""


@dataclass(slots=True)
class SyncReport:
    """What one full sync found (``supervisor-tui check``). None: the helpdesk cannot know
    (Jira Service Management has no feed of deletions), or this account may not read it."""

    tickets: dict[str, bool] = field(default_factory=dict)  # ticket id → open
    deleted: set[str] | None = field(default_factory=set)
    agents: int | None = 0
    queues: int | None = 0
    sla_policies: int | None = 0


Wait = Callable[[float, str], Any]
"""Told before ``check`` waits out a 429: the seconds, and what the helpdesk said."""


@runtime_checkable
class Checkable(Protocol):
    """An adapter that can do one full sync on demand (``supervisor-tui check``)."""

    name: str

    async def sync_once(self, sink: Sink, *, wait: Wait | None = None) -> SyncReport:
        """Read everything once; a missing capability is a limit, not an error."""

    def sync_limits(self) -> Sequence[Limit]:
        """The capabilities the sync found this account without."""

    def rate_figures_now(self) -> tuple[int, int | None]:
        """Requests sent so far, and what the helpdesk said is left of its limit."""

    async def close(self) -> None: ...


@runtime_checkable
class TakesWebhooks(Protocol):
    """An adapter that takes the helpdesk's webhooks (as hints to poll sooner)."""

    name: str

    def webhook(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """Check a delivery (signature, age) and answer (HTTP status, short reason)."""


def needs_table(needs: Sequence[Need]) -> str:
    """The README's table of what each figure reads, what it needs from the account and
    what the board shows without it (made from an adapter's ``NEEDS``; a test keeps the
    README equal to it)."""
    rows = [
        "| figure | read from | needs | without it the board shows |",
        "|---|---|---|---|",
    ]
    for need in needs:
        cells = (need.capability.label, f"`{need.endpoint}`", need.requires, need.without)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


class Limited(Exception):
    """A capability this account does not give: raised (or recorded) by an adapter, it turns
    that capability off with a reason and a fix, and the rest of the source goes on."""

    def __init__(self, capability: Capability, reason: str | Reason, fix: str = "") -> None:
        super().__init__(english(reason) if isinstance(reason, Reason) else reason)
        self.capability = capability
        self.reason = reason
        self.fix = fix


class SourceSetupError(ValueError):
    """A source's settings cannot work (no token, an unreadable token file, ...); said in
    the floor's language, the keys as the config writes them."""


def source_named(name: str, secret: str = "") -> str:
    """``source 'zd'`` (or ``source 'zd' webhook secret``) as a setup error starts."""
    if secret == "webhook":
        return _("source {name} webhook secret").format(name=repr(name))
    return _("source {name}").format(name=repr(name))


def needs_one_of(name: str, *keys: str) -> str:
    """A source that lacks every way of saying something: the keys that would say it."""
    if len(keys) == 2:
        return _("source {name}: needs {first} or {second}").format(
            name=repr(name), first=keys[0], second=keys[1]
        )
    return _("source {name}: needs one of: {keys}").format(name=repr(name), keys=", ".join(keys))


class UnknownAdapter(LookupError):
    pass


def adapter_kinds() -> dict[str, Any]:
    """Adapters installed as entry points (a site adds one without forking)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_adapter_class(kind: str) -> Any:
    kinds = adapter_kinds()
    if kind not in kinds:
        known = ", ".join(sorted(kinds)) or "none"
        raise UnknownAdapter(f"no adapter of kind {kind!r} is installed (installed: {known})")
    return kinds[kind].load()


log = logging.getLogger(__name__)


class SourceSettings(BaseModel):
    """A ``[[sources]]`` entry as the config file gives it. Each adapter owns a subclass
    (``settings_model``) with ``kind: Literal["its kind"]`` and its own keys; the config only
    picks the model by ``kind``. Unknown keys are errors; secrets are named, never written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    kind: str


def check_base_url(base_url: str, key: str = "base_url") -> None:
    """A helpdesk's address: http(s), and plain http only to this machine (tests, demo)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            _("{key} must be an http(s) URL, got {value}").format(key=key, value=repr(base_url))
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            _("{key}: plain http is only allowed to a loopback address").format(key=key)
        )


class OAuthRefreshKeys(SourceSettings):
    """An OAuth token that expires, renewed with a refresh token (Zendesk, Atlassian 3LO,
    ServiceNow). The refresh token lives in ``oauth_refresh_token_file`` (mode 600), which is
    rewritten when the helpdesk rotates it; ``oauth_token_env`` is then optional (the first
    access token comes from a renewal)."""

    oauth_refresh_token_file: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret_env: str | None = None
    oauth_client_secret_file: str | None = None
    oauth_token_url: str | None = None
    """Default: the vendor's (``<base_url>/oauth_token.do``, ``https://auth.atlassian.com/
    oauth/token``, ``<base_url>/oauth/tokens``)."""

    oauth_token_env: str | None = None
    """A bearer token in this environment variable (without renewal)."""

    def need_login(self, has_login: bool, login: str) -> None:
        """Either a login (``login`` names its keys) or an OAuth token, fixed or renewed."""
        if not (has_login or self.oauth_token_env or self.oauth_refresh_token_file):
            raise ValueError(
                _("needs {login}, {oauth} or {refresh}").format(
                    login=login, oauth="oauth_token_env", refresh="oauth_refresh_token_file"
                )
            )

    @model_validator(mode="after")
    def _oauth_refresh(self) -> OAuthRefreshKeys:
        if self.oauth_token_url:
            check_base_url(self.oauth_token_url, key="oauth_token_url")
        if not self.oauth_refresh_token_file:
            given = self.oauth_client_id or self.oauth_client_secret_env
            if given or self.oauth_client_secret_file or self.oauth_token_url:
                raise ValueError(
                    _("{keys} need {other}").format(
                        keys="oauth_client_id, oauth_client_secret_*, oauth_token_url",
                        other="oauth_refresh_token_file",
                    )
                )
            return self
        if not self.oauth_client_id:
            raise ValueError(
                _("{key} needs {other}").format(
                    key="oauth_refresh_token_file", other="oauth_client_id"
                )
            )
        if bool(self.oauth_client_secret_env) == bool(self.oauth_client_secret_file):
            raise ValueError(
                _("{key} needs one of {first} and {second}").format(
                    key="oauth_refresh_token_file",
                    first="oauth_client_secret_env",
                    second="oauth_client_secret_file",
                )
            )
        return self


def need_address(base_url: str | None, host: str | None, host_key: str) -> None:
    """A source's address: its helpdesk's own name (``host_key``: subdomain, domain, site,
    instance) or a ``base_url`` (which wins), checked."""
    if not base_url and not host:
        raise ValueError(_("needs {key} (or {other})").format(key=host_key, other="base_url"))
    if base_url:
        check_base_url(base_url)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class AdapterClass(Protocol):
    """What the config and the collector need of an installed adapter's class."""

    settings_model: ClassVar[type[SourceSettings]]

    @classmethod
    def from_config(cls, name: str, settings: dict[str, Any], clock: Clock) -> Adapter: ...


def source_models() -> list[type[SourceSettings]]:
    """The settings model of every adapter installed as an entry point, by kind. One that
    fails to load is left out (its kind is then refused as unknown, with the reason logged)."""
    models = []
    for kind, ep in sorted(adapter_kinds().items()):
        try:
            model = ep.load().settings_model
        except Exception as exc:  # a broken plugin must not stop the floor's own sources
            log.warning("adapter %r cannot be loaded: %s", kind, exc)
            continue
        if isinstance(model, type) and issubclass(model, SourceSettings):
            models.append(model)
    return models


def source_union() -> Any:
    """The type of a ``[[sources]]`` entry: one of the installed adapters' settings models,
    picked by ``kind`` (pydantic's discriminated union keeps its errors precise)."""
    models = source_models()
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="kind")]  # noqa: UP007
