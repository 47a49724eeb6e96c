"""What each figure of a Jira Service Management source reads and needs (README, check)."""

from __future__ import annotations

from supervisor_tui.adapters.base import Need
from supervisor_tui.i18n import N_
from supervisor_tui.model import Capability

NEEDS = (
    Need(
        Capability.TICKETS,
        "GET /rest/api/3/search/jql (project in the desks' projects)",
        "Browse projects on the desks' projects (an agent of the desk)",
        N_("nothing from this source"),
        N_("an API token of a user who is an agent on the service desks"),
        optional=False,
    ),
    Need(
        Capability.QUEUES,
        "GET /rest/servicedeskapi/servicedesk/{id}/queue (includeCount), its issues",
        "agent on that desk (a customer of a desk gets 403: the desk is skipped)",
        N_("the desk's queues and waiting counts are not shown"),
        N_("make the token's user an agent on the desk, or leave it out of service_desk_ids"),
    ),
    Need(
        Capability.SLA_CLOCKS,
        "GET /rest/servicedeskapi/request/{key}/sla",
        "agent on the request's desk",
        N_("that request's SLA is unknown (at risk and breached count the others)"),
        N_("make the token's user an agent on every desk read"),
    ),
    Need(
        Capability.PRESENCE,
        "(none: Jira has no presence)",
        "-",
        N_("agents show no status with the requests they hold; never counted as staffing"),
        "",
    ),
    Need(
        Capability.DELETIONS,
        "(none: Jira has no feed of deleted issues)",
        "-",
        N_("a deleted request stays on the board as last seen"),
        "",
    ),
    Need(
        Capability.WRITE_BACK,
        "POST /rest/servicedeskapi/request/{key}/comment (internal), PUT /rest/api/3/issue/{key}",
        "agent on the desk; Edit issues for the label",
        N_("acks stay on the floor and in the outbox until the site takes them"),
        N_("make the token's user an agent with Edit issues, or write_back = false"),
    ),
)
