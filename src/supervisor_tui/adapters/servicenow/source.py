"""The ``[[sources]]`` settings of a ServiceNow source, as the config file gives them: validated
here, by the adapter that owns them (config.py only picks the model by ``kind``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from supervisor_tui.adapters.base import OAuthRefreshKeys, need_address


class ServiceNowSource(OAuthRefreshKeys):
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
        need_address(self.base_url, self.instance, "instance")
        self.need_login(
            bool(self.username and (self.password_env or self.password_file)),
            "username and password_env or password_file",
        )
        return self
