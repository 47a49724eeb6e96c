"""A source's health reasons in words: one template per code, said in English where the
reason is made (the stored ``reason`` and the logs, which stay English for grep) and in the
floor's language where it is shown (``said``).

A reason travels as ``Reason(code, values)`` beside its English text, so a recording keeps
what happened, not the words of the language it was made in: replayed in Japanese, a 403
recorded in English reads in Japanese. A code this version does not know (a recording from
a newer one) or a template whose values are missing shows the English text as stored.

Values are data (a source's name, a path, a helpdesk's own words) and are never translated,
except ``capability`` (a ``Capability`` value, shown by its label), ``without`` and those in
``TRANSLATED`` (the adapters' English words, translated where the catalog has them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from supervisor_tui.i18n import N_, _
from supervisor_tui.model.enums import Capability
from supervisor_tui.model.events import Limit, Reason

TEMPLATES: Final[Mapping[str, str]] = {
    "first_sync": N_("first sync"),
    "rate_limited": N_("{source}: 429, retry in {seconds} s"),
    "rate_limited_on": N_("{source}: 429 on {family}, retry in {seconds} s"),
    "rate_limited_waits": N_(
        "{source}: 429 on {family}, retry in {seconds} s; {task} waits, the rest goes on"
    ),
    "auth_refused": N_("{source}: the server refused {credential} (401) on {where}"),
    "auth_refused_fix": N_("{source}: the server refused {credential} (401) on {where} — {fix}"),
    "forbidden": N_("{source}: {where} is not allowed for these credentials (403): {excerpt}"),
    "not_found": N_("{source}: {where} not found ({status})"),
    "conflict": N_("{source}: {where} conflicts with a newer change (409)"),
    "server_error": N_("{source}: {where} answered {status}"),
    "answered": N_("{source}: {where} answered {status}: {excerpt}"),
    "timed_out": N_("{source}: {where} timed out"),
    "unreachable": N_("{source}: cannot reach the server ({error})"),
    "renewal_failed": N_("{source}: OAuth token renewal failed: {detail}"),
    "renewal_refused": N_("{source}: {detail}"),
    "quarantined": N_("bad payload quarantined: {detail}"),
    "adapter_stopped": N_("adapter stopped: {detail}"),
    "capability_forbidden": N_("{capability}: not allowed for these credentials (403)"),
    "capability_gone": N_("{capability}: the endpoint is gone (410)"),
    "capability_not_found": N_("{capability}: not on this account (404)"),
    "capability_unavailable": N_("{capability}: not available ({status})"),
    "capability_plan": N_("{capability}: the plan does not include this feature"),
    "capability_denied": N_("{capability}: this API key's agent may not read it (access denied)"),
    "write_back_refused": N_("write-back refused on ticket {ticket} (403)"),
    "tickets_group_scope": N_(
        "tickets: the API key's agent sees only its groups' tickets (group scope); "
        "left out: {groups}"
    ),
    "customer_desk": N_("desk {desks}: the token's user is a customer there, skipped"),
    "customer_desks": N_("desks {desks}: the token's user is a customer there, skipped"),
    "no_talk": N_(
        "{what}: the account's Talk {why}, yet groups are voice queues; their waiting calls, "
        "service level and handle time are unknown"
    ),
    "no_talk_queue_figures": N_(
        "waiting calls: Talk's live queue figures {why}; voice queues show no waiting count"
    ),
    "no_talk_calls": N_(
        "calls: Talk's call export {why}; voice service level, ASA, abandons and handle time "
        "are unknown"
    ),
    "no_presence": N_(
        "agent presence: omnichannel availability {why} and Talk's agent activity {why_talk}; "
        "agents show no status, staffing is unknown"
    ),
    "sn_sla_clocks_off": N_("SLA clocks off: {unreadable}"),
    "sn_presence_off": N_("presence off: {unreadable}; agents show no status with their open work"),
    "sn_sla_definitions_off": N_(
        "SLA definitions off: {unreadable}; targets come from each task SLA (breach time - start)"
    ),
    "sn_deletions_off": N_("deletions off: {unreadable}"),
    "sn_table_unreadable": N_("{source}: {where}: {unreadable}"),
    "sla_hidden": N_("SLA of {count} request not readable (403): shown unknown"),
    "slas_hidden": N_("SLA of {count} requests not readable (403): shown unknown"),
}
"""Every code's English template (the msgid): its placeholders are the reason's values."""

WITHOUT: Final = N_("{reason}; {without}")

TRANSLATED: Final = ("fix", "what", "why", "why_talk")

UNREADABLE: Final[Mapping[str, str]] = {
    "not_found": N_("{table} not found (404)"),
    "forbidden": N_("{table} not readable with these credentials (403, an ACL)"),
    "invalid": N_("Invalid table {table} (its plugin is not installed)"),
}
"""Why a table cannot be read (a reason's ``unreadable`` value names one, ``table`` which)."""

OAUTH: Final[Mapping[str, str]] = {
    "unreachable": N_("the token endpoint cannot be reached ({error})"),
    "no_access_token": N_("the token endpoint answered no access token"),
    "answered": N_("the token endpoint answered {status}"),
    "refused": N_(
        "OAuth token expired and could not be refreshed ({error}): "
        "authorize again and put the new refresh token in {path}"
    ),
    "refused_client": N_(
        "OAuth token expired and could not be refreshed ({error}): "
        "check oauth_client_id and the client secret"
    ),
    "file_empty": N_(
        "OAuth token expired and could not be refreshed (the file is empty): "
        "authorize again and put the new refresh token in {path}"
    ),
    "file_unreadable": N_("OAuth token expired and could not be refreshed: {error}"),
    "file_missing": N_(
        "OAuth token expired and could not be refreshed ({error}): "
        "authorize again and put the new refresh token in {path} (mode 600)"
    ),
}
"""Why an OAuth renewal failed: a reason's ``oauth`` value names one; ``error`` (what the
token endpoint or the file said), ``status`` and ``path`` are data. Said as ``detail``."""

CREDENTIALS: Final[Mapping[str, str]] = {
    "credentials": N_("the credentials"),
    "api_key": N_("the API key"),
    "oauth_token": N_("the OAuth token"),
    "api_token_of": N_("the API token of {who}"),
    "password_of": N_("the password of {who}"),
    "oauth_renewed": N_("the OAuth token (renewed with the refresh token in {who})"),
}
"""Which credential a 401 refused: a reason's ``credential`` value names one, ``who`` whose
(an e-mail, a user name, a file: data). A value not named here is shown as it was stored."""
"""Values that are an adapter's English words (marked ``N_`` where said), not data."""
"""A capability's reason followed by what the board shows without it."""


def reason(code: str, **values: object) -> Reason:
    """A reason with its values as text (a number is kept as it was said)."""
    assert code in TEMPLATES, code
    return Reason(code=code, values=tuple((k, str(v)) for k, v in values.items()))


def english(why: Reason) -> str:
    """The reason as stored and logged."""
    return _words(why, lambda text: text) or why.code


def said(text: str, why: Reason | None) -> str:
    """A reason in the floor's language: ``why`` in words, else the stored ``text`` (itself
    translated where it is one of the catalog's sentences, an adapter's ``N_`` reason)."""
    if why is None:
        return _(text) if text else text
    return _words(why, _) or text


def source_reason(source: object) -> str:
    """What a source in trouble says (``SourceView`` or ``SourceHealth``), in the floor's
    language: what the freshness bar and the detail show."""
    return said(str(getattr(source, "reason", "")), getattr(source, "said", None))


def limit_reason(limit: Limit) -> str:
    """Why the account lacks a capability, in the floor's language."""
    return said(limit.reason, limit.said)


def limit_fix(limit: Limit) -> str:
    """How to get a capability back, in the floor's language where the catalog has it."""
    return _(limit.fix) if limit.fix else ""


def capability_label(capability: Capability) -> str:
    """A capability's name in the floor's language ("agent presence")."""
    return _(capability.label)


def _words(why: Reason, translate: Callable[[str], str]) -> str | None:
    template = TEMPLATES.get(why.code)
    if template is None:
        return None
    values = dict(why.values)
    shown = {k: v for k, v in values.items() if k != "without"}
    if "capability" in shown:
        try:
            label = Capability(shown["capability"]).label
        except ValueError:
            label = shown["capability"]
        shown["capability"] = translate(label)
    for name in TRANSLATED:
        if shown.get(name):
            shown[name] = translate(shown[name])
    if shown.get("credential") in CREDENTIALS:
        shown["credential"] = translate(CREDENTIALS[shown["credential"]]).format(
            who=shown.get("who", "")
        )
    if "oauth" in shown:
        oauth = OAUTH.get(shown["oauth"])
        if oauth is None:
            return None
        try:
            shown["detail"] = translate(oauth).format(**shown)
        except (KeyError, IndexError, ValueError):
            return None
    if "unreadable" in shown:
        unreadable = UNREADABLE.get(shown["unreadable"])
        if unreadable is None:
            return None
        shown["unreadable"] = translate(unreadable).format(table=shown.get("table", "?"))
    try:
        text = translate(template).format(**shown)
    except (KeyError, IndexError, ValueError):
        return None
    if values.get("without"):
        text = translate(WITHOUT).format(reason=text, without=translate(values["without"]))
    return text
