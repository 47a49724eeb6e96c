"""The ``[[sources]]`` settings of a Freshdesk source, as the config file gives them: validated
here, by the adapter that owns them (config.py only picks the model by ``kind``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from supervisor_tui.adapters.base import SourceSettings, need_address
from supervisor_tui.i18n import _


class FreshdeskSource(SourceSettings):
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
        need_address(self.base_url, self.domain, "domain")
        if not (self.api_key_env or self.api_key_file):
            raise ValueError(
                _("needs {first} or {second}").format(first="api_key_env", second="api_key_file")
            )
        return self
