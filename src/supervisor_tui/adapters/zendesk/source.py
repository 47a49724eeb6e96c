"""The ``[[sources]]`` settings of a Zendesk source, as the config file gives them: validated
here, by the adapter that owns them (config.py only picks the model by ``kind``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from supervisor_tui.adapters.base import OAuthRefreshKeys, need_address


class ZendeskSource(OAuthRefreshKeys):
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
        need_address(self.base_url, self.subdomain, "subdomain")
        self.need_login(
            bool(self.email and (self.token_env or self.token_file)),
            "email with token_env or token_file",
        )
        return self
