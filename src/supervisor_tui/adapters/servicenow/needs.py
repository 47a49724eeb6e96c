"""What each figure of a ServiceNow source reads and needs from the instance (README, check)."""

from __future__ import annotations

from supervisor_tui.adapters.base import Need
from supervisor_tui.i18n import N_
from supervisor_tui.model import Capability

NEEDS = (
    Need(
        Capability.TICKETS,
        "GET /api/now/table/incident (and each table in tables)",
        "itil (read on the task tables); rows an ACL hides are not read",
        N_("nothing from this source"),
        N_("a user with the itil role"),
        optional=False,
    ),
    Need(
        Capability.DELETIONS,
        "GET /api/now/table/sys_audit_delete",
        "admin (the deletion audit is an admin table)",
        N_("a deleted incident stays on the board as last seen"),
        N_("grant read on sys_audit_delete, or use an admin user"),
    ),
    Need(
        Capability.QUEUES,
        "GET /api/now/table/sys_user_group, sys_user_grmember",
        "read on groups and their members (itil)",
        N_("no queues or agents from this source"),
        N_("a user with the itil role"),
    ),
    Need(
        Capability.PRESENCE,
        "GET /api/now/table/awa_agent_presence, awa_presence_state",
        "Advanced Work Assignment; read on its tables (awa_agent or admin)",
        N_("agents show no status with their open work; staffing is unknown"),
        N_("activate Advanced Work Assignment, or grant read on awa_agent_presence"),
    ),
    Need(
        Capability.SLA_CLOCKS,
        "GET /api/now/table/task_sla",
        "the SLA plugin; read on task_sla",
        N_("SLA at risk and breached are unknown"),
        N_("activate Service Level Management, or grant read on task_sla"),
    ),
    Need(
        Capability.SLA_POLICIES,
        "GET /api/now/table/contract_sla",
        "Service Level Management; read on contract_sla",
        N_("SLA targets come from each task SLA's planned end; the number of policies is unknown"),
        N_("grant read on contract_sla"),
    ),
    Need(
        Capability.WRITE_BACK,
        "PATCH /api/now/table/incident/{sys_id} (work_notes); GET sys_journal_field",
        "write on work_notes (itil)",
        N_("acks stay on the floor and in the outbox until the instance takes them"),
        N_("a user with the itil role, or write_back = false"),
    ),
)
