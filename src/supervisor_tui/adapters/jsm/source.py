"""The ``[[sources]]`` settings of a Jira Service Management source, as the config file
gives them: validated here, by the adapter that owns them (config.py only picks the model
by ``kind``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from supervisor_tui.adapters.base import OAuthRefreshKeys, need_address


class JsmSource(OAuthRefreshKeys):
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
    priority_names: dict[str, Literal["urgent", "high", "normal", "low"]] = Field(
        default_factory=dict
    )
    """The site's own priority names ("Code Red" = "urgent"), where the common schemes
    (Highest … Lowest, Blocker … Trivial, P1 …, Sev 1 …) do not say it."""
    ticket_interval_s: float = Field(default=10, ge=2, le=3600)
    queue_interval_s: float = Field(default=30, ge=5, le=3600)
    sla_interval_s: float = Field(default=15, ge=5, le=3600)
    members_interval_s: float = Field(default=120, ge=10, le=3600)
    """How often the queues' member lists are read (counts: every ``queue_interval_s``)."""
    overlap_s: float = Field(default=120, ge=60, le=3600)
    backfill_s: float = Field(default=7 * 24 * 3600, ge=3600, le=90 * 24 * 3600)

    @model_validator(mode="after")
    def _needs(self) -> JsmSource:
        need_address(self.base_url, self.site, "site")
        self.need_login(
            bool(self.email and (self.token_env or self.token_file)),
            "email with token_env or token_file",
        )
        return self
